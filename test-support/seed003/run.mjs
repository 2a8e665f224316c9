// Runs seed 003's uploadChatImage, unchanged but for its base URL, against a service.
//   node run.mjs BASE_URL SESSION_TOKEN USER_ID PNG_FILE
// The browser's cookie jar is played by a fetch wrapper that adds `s_access` to requests
// for the service's origin, as a browser does for same-origin requests.
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const [base, token, userId, pngPath] = process.argv.slice(2);
const source = readFileSync(new URL('./uploadChatImage.ts', import.meta.url), 'utf8')
  .replaceAll('https://api.dev.growbin.app', base);
const js = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
}).outputText;

const origin = new URL(base).origin;
const realFetch = globalThis.fetch;
globalThis.fetch = (url, init = {}) => {
  if (new URL(url).origin === origin) {
    init = { ...init, headers: { ...(init.headers || {}), Cookie: `s_access=${token}` } };
  }
  return realFetch(url, init);
};

const { uploadChatImage } = await import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`);
const file = new File([readFileSync(pngPath)], 'photo.png', { type: 'image/png' });
const result = await uploadChatImage(file, { messageId: 'msg-7788', userId });
console.log(JSON.stringify(result));
