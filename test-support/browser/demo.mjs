// Walks the demo page end to end in the system Chromium, as a person would, and saves a
// screenshot after each step. Run by the Rust test `browser::the_demo_page_works_in_a_browser`,
// which starts the service and passes:
//   BASE_URL     the running service, e.g. http://127.0.0.1:41234
//   IMAGE        an image file to upload (a photo: its thumbnail is 320×320)
//   STAFF_EMAIL  an account that already has STAFF
//   SHOTS_DIR    where screenshots go
//   CHROMIUM     the browser (default /usr/bin/chromium; never downloaded)
// Prints one line per step; exits non-zero with the reason (and a screenshot) on failure.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const image = process.env.IMAGE;
const staffEmail = process.env.STAFF_EMAIL;
const targetUser = Number(process.env.TARGET_USER);
const shots = process.env.SHOTS_DIR ?? "screenshots";
if (!base || !image || !staffEmail) throw new Error("set BASE_URL, IMAGE and STAFF_EMAIL");
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
  ],
});
const page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
page.setDefaultTimeout(15_000);
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => { if (m.type() === "error") console.log(`  console: ${m.text()}`); });

let shot = 0;
async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: join(shots, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

function step(text) { console.log(`step: ${text}`); }

/** Waits until `selector`'s text matches `pattern`; an error status fails at once. */
async function see(selector, pattern) {
  const el = page.locator(selector);
  const deadline = Date.now() + 15_000;
  let text = "";
  while (Date.now() < deadline) {
    text = (await el.textContent()) ?? "";
    if (pattern.test(text)) return text.match(pattern);
    if (await el.evaluate((e) => e.classList.contains("error"))) break;
    await page.waitForTimeout(100);
  }
  throw new Error(`${selector} shows ${JSON.stringify(text)}, not ${pattern}`);
}

/** Waits until the image element has loaded a real picture from its `src`. */
async function loaded(selector) {
  await page.waitForFunction(
    (s) => { const img = document.querySelector(s); return !img.hidden && img.complete && img.naturalWidth > 0; },
    selector,
  );
  return page.locator(selector).getAttribute("src");
}

/** Logs in with the dev provider; returns [text, id, roles]. A returning account keeps the
 *  name it registered with, so `shown` may differ from `name`. */
async function logIn(email, name, shown = name) {
  await page.fill("#email", email);
  await page.fill("#name", name);
  await page.click("#login-form button[type=submit]");
  return see("#who", new RegExp(`Logged in as ${shown} \\(#(\\d+), ([A-Z, ]+)\\)`));
}

try {
  step("open the page");
  await page.goto(`${base}/`);
  await page.locator("h1").waitFor();
  if (await page.locator("#uploads").isVisible()) throw new Error("uploads shown before login");
  await screenshot("start");

  step("log in as Alice with the dev provider");
  const [, , roles] = await logIn("alice@example.com", "Alice");
  if (roles !== "USER") throw new Error(`Alice has roles ${roles}`);
  if (await page.locator("#moderation").isVisible()) throw new Error("a USER sees moderation");
  await screenshot("logged-in");

  step("upload an avatar: presign, PUT with progress, callback, CDN");
  await page.setInputFiles("#file", image);
  await page.click("#upload-avatar");
  await see("#upload-status", /Avatar ready: \d+×\d+/);
  if ((await page.locator("#progress").evaluate((p) => p.value)) !== 100) throw new Error("progress not at 100");
  const avatar = await loaded("#avatar");
  if (!avatar.includes("/cdn/")) throw new Error(`avatar served from ${avatar}, not the CDN`);
  await screenshot("avatar");

  step("upload a chat image, see its thumbnail over its BlurHash, delete it");
  await page.click("#upload-chat");
  await see("#upload-status", /Chat image ready: \d+×\d+/);
  const chat = await loaded("#chat");
  if (!chat.endsWith(".thumb.webp")) throw new Error(`the page shows ${chat}, not the thumbnail`);
  if ((await page.request.get(chat)).status() !== 200) throw new Error("the chat image is not on the CDN");
  const shown = await page.locator("#chat").evaluate(async (img) => {
    // The average colour of a picture drawn on a canvas, in linear light (what a BlurHash
    // keeps: its first component is the image's mean linear colour).
    const linear = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const average = (source, w, h) => {
      const c = document.createElement("canvas");
      c.width = w; c.height = h;
      const ctx = c.getContext("2d");
      ctx.drawImage(source, 0, 0, w, h);
      const px = ctx.getImageData(0, 0, w, h).data;
      const sum = [0, 0, 0];
      for (let i = 0; i < px.length; i += 4) for (let k = 0; k < 3; k++) sum[k] += linear(px[i + k]);
      return sum.map((v) => v / (w * h));
    };
    const placeholder = new Image();
    placeholder.src = img.style.backgroundImage.slice(5, -2);
    await placeholder.decode();
    return {
      w: img.naturalWidth, h: img.naturalHeight, hash: img.dataset.blurhash,
      background: img.style.backgroundImage.slice(0, 20),
      thumb: average(img, img.naturalWidth, img.naturalHeight),
      placeholder: average(placeholder, 32, 32),
    };
  });
  if (shown.w !== 320 || shown.h !== 320) throw new Error(`the thumbnail is ${shown.w}×${shown.h}, not 320×320`);
  if (!shown.hash || !shown.background.startsWith('url("data:image/png')) {
    throw new Error(`no BlurHash placeholder: ${JSON.stringify(shown)}`);
  }
  // The placeholder is the picture's colours, blurred: on average the same light.
  if (shown.thumb.some((v, k) => Math.abs(v - shown.placeholder[k]) > 0.12)) {
    throw new Error(`the placeholder's colours ${shown.placeholder} are not the thumbnail's ${shown.thumb}`);
  }
  await screenshot("chat-image");
  await page.click("#delete-chat");
  await see("#upload-status", /Chat image deleted/);
  if (await page.locator("#chat").isVisible()) throw new Error("the deleted image is still shown");
  const gone = (await page.request.get(chat)).status();
  if (gone !== 404) throw new Error(`the deleted chat image answers ${gone}, not 404`);
  await screenshot("chat-deleted");

  step("report a chat room with an evidence image");
  await page.selectOption("#category", { label: "Abusive language / 욕설/비방" });
  await page.fill("#room", "7");
  await page.fill("#reason", "Insults in the chat");
  await page.click("#report-form button[type=submit]");
  const [, reportId] = await see("#report-status", /Report #(\d+) filed/);
  await see("#my-reports", new RegExp(`#${reportId} .*: open`));
  await screenshot("reported");

  step("report a user too");
  await page.selectOption("#target-kind", { label: "a user" });
  await page.fill("#room", String(targetUser));
  await page.fill("#reason", "Sells fakes");
  await page.locator("#report-status").evaluate((p) => { p.textContent = ""; });
  await page.click("#report-form button[type=submit]");
  const [, userReportId] = await see("#report-status", /Report #(\d+) filed/);
  await see("#my-reports", new RegExp(`#${userReportId} user ${targetUser}: open`));

  step("log out");
  // The page logs out, then reloads itself.
  await Promise.all([page.waitForEvent("load"), page.click("#logout")]);
  await page.locator("#login-form").waitFor();
  if (await page.locator("#logout").isVisible()) throw new Error("still logged in after logout");

  step("log in as STAFF and resolve the report");
  const [, , staffRoles] = await logIn(staffEmail, "Moderator", ".+");
  if (!staffRoles.includes("STAFF")) throw new Error(`the moderator has roles ${staffRoles}`);
  await page.click("#load-reports");
  await see("#moderation-status", /\d+ open/);
  const item = page.locator("#open-reports li", { hasText: `#${reportId} ` });
  await see(`#open-reports li:has(button[data-report-id="${reportId}"])`, /Insults in the chat \(1 image\)/);
  if (await item.locator("button.suspend").count()) throw new Error("a chat room offered a suspension");
  await item.locator("button.resolve").click();
  await see("#open-reports", new RegExp(`#${reportId}: resolved`));
  await screenshot("resolved");

  step("resolve the user report with a 7-day suspension");
  const userItem = page.locator("#open-reports li", { hasText: `#${userReportId} ` });
  await userItem.locator("button.suspend").click();
  await see("#open-reports", new RegExp(`#${userReportId}: resolved; user #${targetUser} suspended until \\d{4}-`));
  await screenshot("suspended");
  await page.click("#load-reports");
  await see("#moderation-status", /^0 open$/);
  await screenshot("none-open");

  if (problems.length) throw new Error(problems.join("; "));
  console.log(JSON.stringify({ ok: true, report: Number(reportId), userReport: Number(userReportId), screenshots: shot }));
} catch (err) {
  await screenshot("failure").catch(() => {});
  console.log(`FAILED: ${err.message}`);
  for (const p of problems) console.log(`  ${p}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
