// The demo's front end: plain JavaScript over the service's API. Also the reference for
// seed 003's upload flow: presign, PUT with exactly `required_headers`, callback.
"use strict";

const $ = (id) => document.getElementById(id);
let me = null;

/** JSON request with the session cookie; throws the error envelope's message. */
async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new Error(data.message || `HTTP ${res.status}`);
  return { res, data };
}

function say(id, text, error = false) {
  $(id).textContent = text;
  $(id).classList.toggle("error", error);
}

/** PUT the file with exactly the headers the presign answer requires, reporting progress. */
function put(url, headers, file) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) {
      // Browsers set Content-Length themselves.
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) $("progress").value = (100 * e.loaded) / e.total; };
    xhr.onload = () => (xhr.status < 300 ? resolve(xhr.getResponseHeader("ETag") || "") : reject(new Error(`upload failed: HTTP ${xhr.status}`)));
    xhr.onerror = () => reject(new Error("upload failed"));
    xhr.send(file);
  });
}

/** The whole flow for one channel; returns the confirmed image. */
async function upload(channel) {
  const file = $("file").files[0];
  if (!file) throw new Error("choose an image first");
  $("progress").value = 0;
  const { data: init } = await api("POST", `/api/v1/images/${channel}`, {
    filename: file.name, content_type: file.type || "application/octet-stream",
    uploader_id: String(me.userId), metadata: { source: "demo" },
  });
  const etag = await put(init.upload_url, init.required_headers, file);
  const { data: image } = await api("POST", `/api/v1/images/${channel}/callback`, {
    key: init.key, etag, content_length: file.size,
  });
  return image;
}

// BlurHash decoding (https://blurha.sh), the reference algorithm: the page has no build
// step to bring in the npm package, and these thirty lines are all of it.
const B83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
const d83 = (s) => [...s].reduce((v, c) => v * 83 + B83.indexOf(c), 0);
const toLinear = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
const toSrgb = (v) => {
  v = Math.max(0, Math.min(1, v));
  return Math.round((v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055) * 255);
};
const signPow = (v, e) => Math.sign(v) * Math.abs(v) ** e;

/** A BlurHash painted at `w`×`h`, as a data: URL. */
function blurhashUrl(hash, w = 32, h = 32) {
  const size = d83(hash[0]);
  const ny = Math.floor(size / 9) + 1, nx = (size % 9) + 1;
  const max = (d83(hash[1]) + 1) / 166;
  const dc = d83(hash.slice(2, 6));
  const colors = [[dc >> 16, (dc >> 8) & 255, dc & 255].map(toLinear)];
  for (let i = 1; i < nx * ny; i++) {
    const v = d83(hash.slice(4 + 2 * i, 6 + 2 * i));
    colors.push([Math.floor(v / 361), Math.floor(v / 19) % 19, v % 19].map((q) => signPow((q - 9) / 9, 2) * max));
  }
  const px = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const rgb = [0, 0, 0];
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const basis = Math.cos((Math.PI * x * i) / w) * Math.cos((Math.PI * y * j) / h);
      colors[i + j * nx].forEach((c, k) => { rgb[k] += c * basis; });
    }
    px.set([...rgb.map(toSrgb), 255], 4 * (x + y * w));
  }
  const canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = h;
  canvas.getContext("2d").putImageData(new ImageData(px, w, h), 0, 0);
  return canvas.toDataURL();
}

/** Shows a confirmed image's thumbnail, its BlurHash painted underneath until it loads. */
function show(img, image) {
  if (image.blurhash) {
    img.dataset.blurhash = image.blurhash;
    img.style.backgroundImage = `url("${blurhashUrl(image.blurhash)}")`;
  }
  img.src = image.variants?.thumb?.url ?? image.cdn_url;
  img.dataset.full = image.cdn_url;
  img.hidden = false;
}

async function refreshReports() {
  const { data } = await api("GET", "/api/reports/mine");
  $("my-reports").replaceChildren(...data.items.map((r) => {
    const li = document.createElement("li");
    li.textContent = `#${r.id} ${r.target_type} ${r.target_id}: ${r.status}`;
    li.dataset.reportId = r.id;
    return li;
  }));
}

function loggedIn(user) {
  me = user;
  say("who", `Logged in as ${user.name} (#${user.userId}, ${user.roles.join(", ")})`);
  $("logout").hidden = false;
  for (const id of ["uploads", "report"]) $(id).hidden = false;
  $("moderation").hidden = !user.roles.some((r) => r === "STAFF" || r === "ADMIN");
  if (user.profileImageUri) { $("avatar").src = user.profileImageUri; $("avatar").hidden = false; }
  refreshReports().catch(() => {});
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = new URLSearchParams({ login_hint: $("email").value });
  if ($("name").value) q.set("name", $("name").value);
  try {
    // The redirects (provider, callback) stay on this origin: fetch follows them and the
    // browser keeps the cookies each sets.
    const { data } = await api("GET", `/account/login/oauth2/authorization/dev?${q}`);
    loggedIn(data);
  } catch (err) { say("who", err.message, true); }
});

$("logout").addEventListener("click", async () => {
  await api("POST", "/account/logout").catch(() => {});
  location.reload();
});

$("upload-avatar").addEventListener("click", async () => {
  try {
    const image = await upload("profile");
    show($("avatar"), image);
    say("upload-status", `Avatar ready: ${image.width}×${image.height}`);
  } catch (err) { say("upload-status", err.message, true); }
});

$("upload-chat").addEventListener("click", async () => {
  try {
    const image = await upload("chat");
    show($("chat"), image); $("chat").dataset.key = image.key;
    $("delete-chat").hidden = false;
    say("upload-status", `Chat image ready: ${image.width}×${image.height}`);
  } catch (err) { say("upload-status", err.message, true); }
});

$("delete-chat").addEventListener("click", async () => {
  try {
    await api("DELETE", `/images/${$("chat").dataset.key}`);
    $("chat").hidden = true; $("delete-chat").hidden = true;
    say("upload-status", "Chat image deleted");
  } catch (err) { say("upload-status", err.message, true); }
});

$("report-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const evidence = await upload("report");
    const { res } = await api("POST", "/api/report", {
      report_category_id: Number($("category").value),
      [$("target-kind").value]: Number($("room").value),
      report_etc_reason: $("reason").value, report_img_path: [evidence.key],
    });
    say("report-status", `Report #${res.headers.get("X-Report-Id")} filed`);
    await refreshReports();
  } catch (err) { say("report-status", err.message, true); }
});

$("load-reports").addEventListener("click", async () => {
  try {
    const { data } = await api("GET", "/api/reports?status=open");
    $("open-reports").replaceChildren(...data.items.map((r) => {
      const li = document.createElement("li");
      li.textContent = `#${r.id} ${r.target_type} ${r.target_id}: ${r.reason} (${r.evidence.length} image) `;
      const act = (label, cls, body, done) => {
        const button = document.createElement("button");
        button.textContent = label;
        button.className = cls;
        button.dataset.reportId = r.id;
        button.addEventListener("click", async () => {
          try {
            await api("PATCH", `/api/reports/${r.id}`, body);
            li.textContent = `#${r.id}: ${done}`;
          } catch (err) { say("moderation-status", err.message, true); }
        });
        li.append(button, " ");
      };
      act("Resolve", "resolve", { action: "resolve", note: "handled in the demo" }, "resolved");
      if (r.target_type === "user") {
        // The decision suspends the reported user with the resolution, in one step.
        const until = new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, "Z");
        act("Resolve and suspend 7 days", "suspend",
          { action: "resolve", note: "suspended in the demo", decision: { suspend_target: { until } } },
          `resolved; user #${r.target_id} suspended until ${until}`);
      }
      return li;
    }));
    say("moderation-status", `${data.total} open`);
  } catch (err) { say("moderation-status", err.message, true); }
});

api("GET", "/api/report/categories").then(({ data }) => {
  $("category").replaceChildren(...data.map((c) => new Option(`${c.label_en} / ${c.label_ko}`, c.id)));
});
