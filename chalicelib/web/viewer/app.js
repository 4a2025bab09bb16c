// The ECG viewer (GET /, index.html): plain JavaScript, no build step. A file, not an inline
// script: the page's Content-Security-Policy runs scripts from this origin only.
//
// It calls the API that serves it (same origin, no CORS); the one other place it talks to is
// the upload URL the API hands out for a large file (POST /ecgs/uploads), which the page's
// CSP allows. The token lives in sessionStorage (this tab only, gone when it closes), never in
// a cookie. Text from the API is put in the page with textContent only, never as HTML.
(function () {
  "use strict";

  // This script is <base>viewer/app.js, and <base> is where the API answers (the stage URL on
  // AWS, the server's root under `make run`): every call is relative to it.
  const base = new URL("../", document.currentScript.src);
  const TOKEN_KEY = "ecg-insights-token";
  const PAGE_SIZE = 10;
  const MAX_BODY_BYTES = 6000000; // POST /ecgs takes bodies up to this size
  const MAX_JSON_FILE_BYTES = 268435456; // a JSON file through POST /ecgs/uploads
  const MAX_FILE_BYTES = 2147483648; // any file through POST /ecgs/uploads
  const MAX_WINDOW = 500000; // GET /ecgs/{id}/signal answers at most this many samples
  const POLL_FIRST_MS = 1000; // status polling: every second at first, then backing off
  const POLL_BACKOFF = 1.3;
  const POLL_MAX_MS = 10000;
  const IN_PROGRESS = new Set(["awaiting_upload", "processing"]);
  // Headers a page may not set on a request (the browser sets them itself: Content-Length is
  // the exact size of the file it sends, which is what the upload URL's signature requires).
  const BROWSER_HEADERS = new Set(["content-length", "host", "connection", "expect", "transfer-encoding"]);
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  let session = null; // {token, username, role}

  class ApiError extends Error {
    constructor(status, code, message, retryAfter, body) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
      this.body = body;
    }
  }

  function url(path) {
    return new URL(path, base);
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (session) headers.Authorization = `Bearer ${session.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError(0, "network", "The API could not be reached. Check your connection.");
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      const problem = new ApiError(
        response.status,
        data && data.code,
        (data && data.message) || `The API answered ${response.status}.`,
        response.headers.get("Retry-After"),
        data,
      );
      // A 401 ends the session, except a wrong password typed on purpose (sign-in, or the
      // current password of a password change: `invalid_credentials`).
      if (response.status === 401 && session && path !== "auth/token" && problem.code !== "invalid_credentials") {
        expired();
      }
      throw problem;
    }
    return data;
  }

  function element(tag, text, attributes) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  }

  function button(text, onClick, attributes) {
    const node = element("button", text, { type: "button", ...(attributes || {}) });
    node.addEventListener("click", onClick);
    return node;
  }

  function say(message) {
    $("status").textContent = message || "";
  }

  function failed(error) {
    say(error && error.message ? error.message : String(error));
  }

  function statusText(status) {
    return String(status).replace(/_/g, " ");
  }

  function megabytes(bytes) {
    return bytes < 1e6 ? `${Math.max(1, Math.round(bytes / 1e3))} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
  }

  // ---- screens and session ----------------------------------------------------------------

  const SCREENS = ["login-view", "ecgs-view", "ecg-view", "users-view", "password-view"];
  let screenBeforePassword = null;

  function show(screen) {
    for (const id of SCREENS) $(id).hidden = id !== screen;
    const signedIn = screen !== "login-view";
    $("sign-out").hidden = !signedIn;
    $("who").hidden = !signedIn;
    $("change-password").hidden = !signedIn || screen === "password-view";
    document.body.dataset.screen = screen;
  }

  function forget() {
    session = null;
    sessionStorage.removeItem(TOKEN_KEY);
    cancelUpload(false);
    stopWatching();
    closeEcg();
  }

  function expired() {
    forget();
    show("login-view");
    $("login-error").textContent = "Your session has ended. Please sign in again.";
  }

  async function start(token) {
    session = { token, username: "", role: "" };
    const me = await api("GET", "users/me");
    session.username = me.username;
    session.role = me.role;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("who").textContent = `${me.username} (${me.role})`;
    if (me.role === "admin") {
      show("users-view");
      await userPager.load(0);
    } else {
      resetUploadForm();
      show("ecgs-view");
      await ecgPager.load(0);
    }
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("login-error");
    error.textContent = "";
    say("");
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    try {
      const token = await api("POST", "auth/token", { username, password });
      $("login-password").value = "";
      await start(token.access_token);
    } catch (problem) {
      session = null;
      if (problem.status === 401) {
        error.textContent = "Wrong username or password.";
      } else if (problem.status === 429) {
        error.textContent = `Too many failed sign-ins for this username.${retryText(problem)}`;
      } else {
        error.textContent = problem.message;
      }
      $("login-password").focus();
    }
  });

  function retryText(problem) {
    return problem.retryAfter ? ` Try again in ${problem.retryAfter} seconds.` : "";
  }

  $("sign-out").addEventListener("click", async () => {
    await cancelUpload(true); // while the token still works: nothing half-sent is left behind
    try {
      await api("POST", "auth/logout");
    } catch (error) {
      // Signed out here either way; the token expires on its own.
    }
    forget();
    show("login-view");
    say("You are signed out.");
    $("login-username").focus();
  });

  // ---- password change (any signed-in user) -----------------------------------------------

  function closePasswordScreen() {
    $("password-form").reset();
    $("password-error").textContent = "";
  }

  $("change-password").addEventListener("click", () => {
    const current = document.body.dataset.screen;
    if (current !== "password-view") screenBeforePassword = current;
    closePasswordScreen();
    say("");
    show("password-view");
    $("current-password").focus();
  });

  $("password-cancel").addEventListener("click", () => {
    closePasswordScreen();
    show(screenBeforePassword || (session && session.role === "admin" ? "users-view" : "ecgs-view"));
    $("change-password").focus();
  });

  $("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("password-error");
    error.textContent = "";
    const current = $("current-password").value;
    const first = $("new-password-1").value;
    const again = $("new-password-2").value;
    if (first !== again) {
      error.textContent = "The two new passwords differ. Type the same new password twice.";
      $("new-password-2").focus();
      return;
    }
    if (first === current) {
      error.textContent = "The new password is the same as the current one. Choose another.";
      $("new-password-1").focus();
      return;
    }
    try {
      await api("PUT", "users/me/password", { current_password: current, new_password: first });
    } catch (problem) {
      if (!session) return; // the session itself had ended: the sign-in screen says so
      if (problem.code === "invalid_credentials") {
        error.textContent = "Your current password is wrong.";
        $("current-password").select();
        $("current-password").focus();
      } else if (problem.status === 429) {
        error.textContent = `Too many wrong passwords for this account.${retryText(problem)}`;
      } else if (problem.status === 400) {
        error.textContent = `The new password was not accepted: ${problem.message}`;
        $("new-password-1").focus();
      } else if (problem.code === "account_changed") {
        error.textContent = "Your password was changed elsewhere meanwhile. Sign in again.";
      } else {
        error.textContent = problem.message;
      }
      return;
    }
    // Tokens issued before the change stop working, this tab's too: sign in again.
    closePasswordScreen();
    const username = session.username;
    forget();
    show("login-view");
    $("login-username").value = username;
    $("login-error").textContent = "";
    say("Your password was changed, and every earlier session has ended. Sign in with your new password.");
    $("login-password").focus();
  });

  // ---- pages ------------------------------------------------------------------------------

  function pager(prefix, path, render) {
    const state = { tokens: [null], index: 0, next: null };
    const load = async (index) => {
      const token = state.tokens[index];
      const query = `limit=${PAGE_SIZE}${token ? `&next_token=${encodeURIComponent(token)}` : ""}`;
      const page = await api("GET", `${path}?${query}`);
      state.index = index;
      state.next = page.next_token;
      state.tokens[index + 1] = page.next_token;
      state.tokens.length = index + 2;
      $(`${prefix}-prev`).disabled = index === 0;
      $(`${prefix}-next`).disabled = !page.next_token;
      $(`${prefix}-page`).textContent = `Page ${index + 1}`;
      render(page.items);
    };
    $(`${prefix}-prev`).addEventListener("click", () => load(state.index - 1).catch(failed));
    $(`${prefix}-next`).addEventListener("click", () => load(state.index + 1).catch(failed));
    return { load, reload: () => load(state.index), state };
  }

  // ---- status of an ECG being processed ---------------------------------------------------

  // Polls an ECG until it leaves `awaiting_upload` / `processing`: every second at first, then
  // less often. It asks for the insights, not for GET /ecgs/{id}: while the ECG is not ready
  // they answer 409 with its status, and once it is they are small, whereas GET /ecgs/{id} of a
  // ready ECG carries every sample of a recording of up to 2,000,000. Only a failed ECG is read
  // whole (it has no samples) for its `error`. `onStatus(status, {insights, error})` hears every
  // answer; a network failure or a 503 is simply tried again later.
  const watchers = new Set();

  function watch(id, onStatus) {
    let delay = POLL_FIRST_MS;
    let timer = 0;
    const watcher = {
      stopped: false,
      stop() {
        this.stopped = true;
        clearTimeout(timer);
        watchers.delete(this);
      },
    };
    watchers.add(watcher);
    const tick = async () => {
      if (watcher.stopped) return;
      let status = null;
      let insights = null;
      let error = null;
      try {
        insights = await api("GET", `ecgs/${enc(id)}/insights`);
        status = "ready";
      } catch (problem) {
        if (problem.status === 409 && problem.body && problem.body.status) status = problem.body.status;
        else if (problem.status === 404) status = "deleted";
        else if (problem.status === 401 || problem.status === 403) status = "stopped";
      }
      if (status === "failed") error = await failureOf(id);
      if (watcher.stopped) return;
      if (status !== null && !IN_PROGRESS.has(status)) watcher.stop();
      if (status !== null) onStatus(status, { insights, error });
      if (!watcher.stopped) {
        timer = setTimeout(tick, delay);
        delay = Math.min(POLL_MAX_MS, delay * POLL_BACKOFF);
      }
    };
    tick();
    return watcher;
  }

  function stopWatching() {
    for (const watcher of [...watchers]) watcher.stop();
  }

  // Why a failed ECG failed. GET /ecgs/{id} of an ECG that is not ready has no samples.
  async function failureOf(id) {
    try {
      const summary = await api("GET", `ecgs/${enc(id)}`);
      return summary.status === "failed" ? summary.error || null : null;
    } catch (problem) {
      return null;
    }
  }

  // A ready ECG's summary without reading it whole: the leads from its insights, the
  // sampling rate from a one-sample window.
  async function readySummary(id, date, insights) {
    const first = insights.leads[0];
    const window = await api("GET", `ecgs/${enc(id)}/signal?lead=${enc(first.name)}&start=0&count=1`);
    return {
      id,
      date,
      status: "ready",
      sampling_rate_hz: window.sampling_rate_hz,
      leads: insights.leads.map((lead) => ({ name: lead.name, number_of_samples: lead.number_of_samples })),
    };
  }

  // ---- ECG list -----------------------------------------------------------------------------

  const summaries = new Map();
  let rowWatchers = [];

  function duration(samples, rate) {
    if (!rate) return `${samples} samples`;
    return clock(samples / rate);
  }

  function clock(seconds) {
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds - hours * 3600) / 60);
    const rest = seconds - hours * 3600 - minutes * 60;
    const tail = `${rest.toFixed(1).padStart(4, "0")}`;
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${tail}` : `${minutes}:${tail}`;
  }

  function heartRateText(insights) {
    const lead = insights.leads.find((item) => item.heart_rate_bpm !== null && item.heart_rate_bpm !== undefined);
    if (!lead) return "—";
    return `${lead.heart_rate_bpm} bpm (${lead.name})`;
  }

  function leadsText(ecg) {
    if (!ecg.leads.length) return IN_PROGRESS.has(ecg.status) ? "known once processed" : "—";
    const rate = ecg.sampling_rate_hz;
    const leads = ecg.leads.map((lead) => `${lead.name} (${duration(lead.number_of_samples, rate)})`);
    return `${leads.join(", ")}${rate ? ` at ${rate} Hz` : ", no sampling rate"}`;
  }

  // The status cell: the status in words (not colour alone) and, when failed, why.
  function fillStatus(cell, status, error) {
    cell.replaceChildren(element("span", statusText(status), { class: `badge status-${status}` }));
    if (status === "failed" && error) cell.append(element("span", error, { class: "failure" }));
  }

  function fillHeartRate(cell, id) {
    cell.textContent = "…";
    api("GET", `ecgs/${enc(id)}/insights`)
      .then((insights) => {
        cell.textContent = heartRateText(insights);
      })
      .catch(() => {
        cell.textContent = "unavailable";
      });
  }

  // A row whose ECG changed status (an upload being processed): the row shows it.
  function updateRow(id, status, error) {
    const row = [...$("ecg-rows").querySelectorAll("tr[data-ecg]")].find((item) => item.dataset.ecg === id);
    if (!row) return;
    row.dataset.status = status;
    fillStatus(row.querySelector(".status-cell"), status, error);
    const summary = summaries.get(id);
    if (summary) {
      summary.status = status;
      if (error) summary.error = error;
    }
    if (status === "ready") ecgPager.reload().catch(failed); // leads, rate and heart rate
  }

  const ecgPager = pager("ecg", "ecgs", (items) => {
    const rows = $("ecg-rows");
    rows.replaceChildren();
    summaries.clear();
    for (const watcher of rowWatchers) watcher.stop();
    rowWatchers = [];
    if (!items.length) {
      const row = element("tr");
      row.append(element("td", "No ECGs yet. Upload one above.", { colspan: "6" }));
      rows.append(row);
      return;
    }
    for (const ecg of items) {
      summaries.set(ecg.id, ecg);
      const row = element("tr", null, { "data-ecg": ecg.id, "data-status": ecg.status });
      row.append(element("th", ecg.id, { scope: "row" }));
      const date = element("td");
      date.append(element("time", ecg.date.replace("T", " "), { datetime: ecg.date }));
      row.append(date);
      const status = element("td", null, { class: "status-cell" });
      fillStatus(status, ecg.status, ecg.error);
      row.append(status);
      row.append(element("td", leadsText(ecg)));
      const heartRate = element("td", ecg.status === "ready" ? "…" : "—", { class: "heart-rate" });
      row.append(heartRate);
      const actions = element("td", null, { class: "actions" });
      actions.append(button("Open", () => openEcg(ecg.id).catch(failed), { "aria-label": `Open ECG ${ecg.id}` }));
      actions.append(
        button("Delete", () => deleteEcg(ecg.id), { class: "danger", "aria-label": `Delete ECG ${ecg.id}` }),
      );
      row.append(actions);
      rows.append(row);
      if (ecg.status === "ready") fillHeartRate(heartRate, ecg.id);
      // A file being processed: the row follows it (the upload form follows its own).
      if (ecg.status === "processing" && !(followed && followed.id === ecg.id)) {
        rowWatchers.push(watch(ecg.id, (now, info) => updateRow(ecg.id, now, info.error)));
      }
    }
  });

  async function deleteEcg(id) {
    if (!window.confirm(`Delete ECG “${id}”? This cannot be undone.`)) return;
    try {
      await api("DELETE", `ecgs/${encodeURIComponent(id)}`);
      say(`Deleted ECG “${id}”.`);
      closeEcg();
      show("ecgs-view");
      await ecgPager.reload();
    } catch (error) {
      failed(error);
    }
  }

  // ---- upload -------------------------------------------------------------------------------
  //
  // A JSON file up to 6 MB goes to POST /ecgs as it is (one request). Anything else, EDF
  // always, is announced to POST /ecgs/uploads and then sent to the URL it answers, with
  // exactly the method and headers it answers; the ECG is then `processing` until `ready` or
  // `failed`, and the form follows it. The progress bar follows the bytes sent
  // (XMLHttpRequest's upload progress: fetch has none). One file is sent at a time; another
  // may be sent while the previous one is processed.

  let upload = null; // the file being sent: {xhr, id}
  let followed = null; // the ECG whose processing the form shows: {id, watcher}

  function localDateTime(date) {
    const pad = (number) => String(number).padStart(2, "0");
    return (
      `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
      `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
    );
  }

  // The form's local date and time as RFC 3339 UTC; now when it is empty; null when invalid.
  function uploadDate() {
    const value = $("upload-date").value;
    const date = value ? new Date(value) : new Date();
    if (Number.isNaN(date.getTime())) return null;
    return date.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  function resetUploadForm() {
    $("upload-form").reset();
    $("upload-date").value = localDateTime(new Date());
    $("upload-progress").hidden = true;
    $("upload-percent").textContent = "";
    stage("idle", "");
  }

  function formatOf(name) {
    const match = /\.(json|edf)$/i.exec(name);
    return match ? match[1].toLowerCase() : null;
  }

  function stage(name, message, id) {
    const form = $("upload-form");
    form.dataset.stage = name;
    if (id) form.dataset.ecg = id;
    else delete form.dataset.ecg;
    $("upload-message").textContent = message;
    $("upload-submit").disabled = name === "sending";
    $("upload-cancel").hidden = name !== "sending";
  }

  function progressTo(loaded, total) {
    const progress = $("upload-progress");
    const done = total ? Math.min(100, Math.round((loaded / total) * 100)) : 0;
    progress.hidden = false;
    progress.value = done;
    $("upload-percent").textContent = `${done} %`;
  }

  class Cancelled extends Error {}

  // One request of `mine` (the upload) with progress; resolves with {status, text}, rejects on
  // a network error (or a refused CORS request) and with Cancelled on a cancel.
  function send(mine, method, target, headers, body) {
    return new Promise((resolve, reject) => {
      if (upload !== mine) {
        reject(new Cancelled());
        return;
      }
      const request = new XMLHttpRequest();
      mine.xhr = request;
      request.open(method, target);
      for (const [name, value] of Object.entries(headers)) {
        if (!BROWSER_HEADERS.has(name.toLowerCase())) request.setRequestHeader(name, value);
      }
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && upload === mine) progressTo(event.loaded, event.total);
      });
      request.addEventListener("load", () => resolve({ status: request.status, text: request.responseText }));
      request.addEventListener("error", () => reject(new Error("network")));
      request.addEventListener("abort", () => reject(new Cancelled()));
      request.send(body);
    });
  }

  function parsed(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      return null;
    }
  }

  function postProblem(status, data) {
    const message = data && data.message ? data.message : `The API answered ${status}.`;
    if (status === 413) return "The file is too large for one request.";
    if (status === 409) return `Not uploaded: ${message}`;
    if (status === 400) return `The file is not a valid ECG: ${message}`;
    return `Upload failed: ${message}`;
  }

  // A small JSON file: POST /ecgs. A file in the upload format has no `date`: the form's is
  // written in front of its first field (its other bytes are sent as they are).
  async function postEcg(mine, file, date) {
    let body = file;
    const text = await file.text();
    const value = parsed(text);
    if (value && typeof value === "object" && !Array.isArray(value) && !("date" in value) && Object.keys(value).length) {
      body = text.replace(/^\s*\{/, `{"date":${JSON.stringify(date)},`);
      if (new Blob([body]).size > MAX_BODY_BYTES) {
        await announceAndSend(mine, file, "json", date); // the date made it one request too large
        return;
      }
    }
    stage("sending", `Uploading “${file.name}”…`);
    const answer = await send(
      mine,
      "POST",
      url("ecgs"),
      { Authorization: `Bearer ${session.token}`, "Content-Type": "application/json", Accept: "application/json" },
      body,
    );
    upload = null;
    if (answer.status === 401) {
      expired();
      return;
    }
    const data = parsed(answer.text);
    if (answer.status !== 201) {
      stage("failed", postProblem(answer.status, data));
      return;
    }
    progressTo(1, 1);
    stage("ready", `Uploaded “${data.id}”; its insights are ready.`, data.id);
    $("upload-file").value = "";
    ecgPager.reload().catch(failed);
  }

  // Anything else: announce, send the file where the API says, then follow its processing.
  async function announceAndSend(mine, file, format, date) {
    stage("sending", `Announcing “${file.name}” (${megabytes(file.size)})…`);
    let ticket;
    try {
      ticket = await api("POST", "ecgs/uploads", { date, format, size_bytes: file.size });
    } catch (problem) {
      if (upload !== mine) return;
      upload = null;
      stage("failed", `Not uploaded: ${problem.message}`);
      return;
    }
    const id = ticket.id;
    mine.id = id;
    if (upload !== mine) {
      discard(id); // cancelled while it was announced
      return;
    }
    stage("sending", `Sending “${file.name}” (${megabytes(file.size)}) as ECG “${id}”…`, id);
    ecgPager.reload().catch(failed);
    let answer;
    try {
      answer = await send(mine, ticket.upload.method, ticket.upload.url, ticket.upload.headers, file);
    } catch (problem) {
      if (problem instanceof Cancelled) return; // cancelUpload tidies up
      upload = null;
      await discard(id);
      stage("failed", "Upload failed: the file could not be sent to storage. Nothing was kept; try again.");
      return;
    }
    upload = null;
    if (answer.status < 200 || answer.status >= 300) {
      const code = /<Code>([^<]*)<\/Code>/.exec(answer.text || "");
      await discard(id);
      stage(
        "failed",
        `Upload failed: storage refused the file (${answer.status}${code ? ` ${code[1]}` : ""}). Nothing was kept; try again.`,
      );
      return;
    }
    progressTo(1, 1);
    $("upload-file").value = "";
    stage("processing", `Uploaded “${file.name}”. ECG “${id}” is processing…`, id);
    if (followed) followed.watcher.stop();
    followed = { id, watcher: null };
    followed.watcher = watch(id, (status, info) => processed(id, date, status, info));
  }

  async function processed(id, date, status, info) {
    updateRow(id, status, info.error);
    const showing = followed && followed.id === id;
    if (!showing) return;
    if (IN_PROGRESS.has(status)) {
      if (!upload) stage("processing", `ECG “${id}” is ${statusText(status)}…`, id);
      return;
    }
    followed = null;
    if (upload) return; // another file is being sent: the form shows that one
    if (status === "failed") {
      const why = (info.error || "the file could not be processed").replace(/\.$/, "");
      stage("failed", `ECG “${id}” failed: ${why}.`, id);
      return;
    }
    if (status !== "ready") {
      stage("failed", status === "deleted" ? `ECG “${id}” was deleted.` : `ECG “${id}” is ${statusText(status)}.`, id);
      return;
    }
    stage("ready", `ECG “${id}” is ready.`, id);
    if (document.body.dataset.screen !== "ecgs-view") return; // the user went elsewhere: no surprise
    try {
      const listed = summaries.get(id);
      const summary = await readySummary(id, listed ? listed.date : date, info.insights);
      await openEcg(id, summary, info.insights);
    } catch (problem) {
      failed(problem);
    }
  }

  // An announced ECG whose file never arrived: deleted, so it does not wait 24 hours to fail.
  async function discard(id) {
    try {
      await api("DELETE", `ecgs/${enc(id)}`);
    } catch (problem) {
      // It becomes `failed` on its own a day after it was announced.
    }
    if (session && session.role === "user") ecgPager.reload().catch(() => {});
  }

  // Stops sending; when `tell`, says so and deletes the announced ECG (resolves once deleted).
  // Without (the session is over), also stops following the one being processed.
  async function cancelUpload(tell) {
    const current = upload;
    upload = null;
    if (!tell && followed) {
      followed.watcher.stop();
      followed = null;
    }
    if (!current) return;
    if (current.xhr) current.xhr.abort();
    $("upload-progress").hidden = true;
    $("upload-percent").textContent = "";
    if (!tell) return;
    stage("cancelled", "Upload cancelled; nothing was kept.");
    if (current.id) await discard(current.id);
  }

  // Leaving the page while a file is being sent loses it: the browser asks first.
  window.addEventListener("beforeunload", (event) => {
    if (!upload) return;
    event.preventDefault();
    event.returnValue = "";
  });

  $("upload-cancel").addEventListener("click", () => {
    cancelUpload(true);
    $("upload-file").focus();
  });

  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (upload) return;
    const file = $("upload-file").files[0];
    if (!file) return;
    const format = formatOf(file.name);
    const date = uploadDate();
    let problem = null;
    if (!format) problem = `“${file.name}” is neither a .json nor an .edf file.`;
    else if (file.size === 0) problem = `“${file.name}” is empty.`;
    else if (file.size > MAX_FILE_BYTES || (format === "json" && file.size > MAX_JSON_FILE_BYTES)) {
      problem = `“${file.name}” is ${megabytes(file.size)}: too large (EDF files up to 2 GiB, JSON up to 256 MiB).`;
    } else if (date === null) problem = "The date is not valid.";
    if (problem) {
      stage("failed", problem);
      return;
    }
    const mine = { xhr: null, id: null };
    upload = mine;
    if (followed) {
      followed.watcher.stop(); // the list's row keeps showing it once reloaded
      followed = null;
    }
    progressTo(0, 1);
    const small = format === "json" && file.size <= MAX_BODY_BYTES;
    (small ? postEcg(mine, file, date) : announceAndSend(mine, file, format, date)).catch((error) => {
      if (error instanceof Cancelled || upload !== mine) return;
      upload = null;
      stage("failed", error && error.message === "network" ? "Upload failed: the API could not be reached." : String(error));
    });
  });

  // ---- one ECG: charts --------------------------------------------------------------------

  let view = null; // the open ECG and the window shown

  const PEAK = "#d00000";
  const ZERO = "#0050c8";
  const GRID_MINOR = "#f3cccc";
  const GRID_MAJOR = "#e09a9a";

  function quantile(sorted, q) {
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
  }

  // The gain is unknown (signals are raw integers), so each lead is drawn in units of its
  // robust amplitude: the range between its 1st and 99th percentiles, in the first window loaded.
  function robustScale(signal) {
    const sorted = Float64Array.from(signal).sort();
    const median = quantile(sorted, 0.5);
    const amplitude = Math.max(1, quantile(sorted, 0.99) - quantile(sorted, 0.01));
    const low = (quantile(sorted, 0.001) - median) / amplitude;
    const high = (quantile(sorted, 0.999) - median) / amplitude;
    return {
      median,
      amplitude,
      min: Math.floor(Math.min(-0.6, low - 0.15) * 2) / 2,
      max: Math.ceil(Math.max(0.6, high + 0.15) * 2) / 2,
    };
  }

  function unit(index) {
    return view.rate ? index / view.rate : index;
  }

  function gridSteps(pixelsPerUnit) {
    // With a sampling rate: ECG paper at 25 mm/s, 1 mm = 0.04 s, 5 mm = 0.2 s, coarser when
    // zoomed out. Without: round numbers of samples.
    const majors = view.rate ? [0.2, 1, 5, 10, 30, 60] : [10, 50, 100, 500, 1000, 5000, 10000, 50000];
    const major = majors.find((step) => step * pixelsPerUnit >= 24) || majors[majors.length - 1];
    return { major, minor: major / 5 };
  }

  function drawGrid(u) {
    const context = u.ctx;
    const { left, top, width, height } = u.bbox;
    const x0 = u.scales.x.min;
    const x1 = u.scales.x.max;
    const y0 = u.scales.y.min;
    const y1 = u.scales.y.max;
    const steps = gridSteps(width / (x1 - x0));
    context.save();
    context.fillStyle = "#fff7f7";
    context.fillRect(left, top, width, height);
    const lines = (from, to, step, axis, colour, lineWidth) => {
      context.strokeStyle = colour;
      context.lineWidth = lineWidth;
      context.beginPath();
      for (let value = Math.ceil(from / step - 1e-9) * step; value <= to; value += step) {
        const position = Math.round(u.valToPos(value, axis, true)) + 0.5;
        if (axis === "x") {
          context.moveTo(position, top);
          context.lineTo(position, top + height);
        } else {
          context.moveTo(left, position);
          context.lineTo(left + width, position);
        }
      }
      context.stroke();
    };
    const ratio = devicePixelRatio || 1;
    const yPixels = height / (y1 - y0);
    if (steps.minor * (width / (x1 - x0)) >= 4) lines(x0, x1, steps.minor, "x", GRID_MINOR, ratio);
    if (0.1 * yPixels >= 4) lines(y0, y1, 0.1, "y", GRID_MINOR, ratio);
    lines(x0, x1, steps.major, "x", GRID_MAJOR, ratio);
    lines(y0, y1, 0.5, "y", GRID_MAJOR, ratio);
    context.restore();
  }

  function drawMarks(u, lead) {
    const cache = lead.cache;
    if (!cache) return;
    const context = u.ctx;
    const ratio = devicePixelRatio || 1;
    const { left, top, width, height } = u.bbox;
    const first = Math.max(view.start, cache.from);
    const last = Math.min(view.start + view.span, cache.to);
    const value = (index) => (cache.signal[index - cache.from] - lead.scale.median) / lead.scale.amplitude;
    context.save();
    context.beginPath();
    context.rect(left, top, width, height);
    context.clip();
    // Raw zero, the level zero crossings cross.
    const zeroLevel = -lead.scale.median / lead.scale.amplitude;
    const zeroY = u.valToPos(zeroLevel, "y", true);
    if (zeroLevel >= u.scales.y.min && zeroLevel <= u.scales.y.max) {
      context.strokeStyle = ZERO;
      context.lineWidth = ratio;
      context.setLineDash([4 * ratio, 4 * ratio]);
      context.beginPath();
      context.moveTo(left, zeroY);
      context.lineTo(left + width, zeroY);
      context.stroke();
      context.setLineDash([]);
    }
    // Zero crossings: sign changes between consecutive non-zero samples (as the insights count them).
    let crossings = 0;
    let sign = 0;
    for (let index = Math.max(cache.from, first - 1); index < last; index += 1) {
      const raw = cache.signal[index - cache.from];
      if (raw === 0) continue;
      const current = raw > 0 ? 1 : -1;
      if (sign !== 0 && current !== sign && index >= first) {
        crossings += 1;
        if (crossings <= 2000) {
          const x = u.valToPos(unit(index), "x", true);
          context.fillStyle = ZERO;
          context.fillRect(x - ratio, zeroY - 6 * ratio, 2 * ratio, 12 * ratio);
        }
      }
      sign = current;
    }
    // R peaks.
    let peaks = 0;
    for (const beat of cache.beats || []) {
      if (beat < first || beat >= last) continue;
      const x = u.valToPos(unit(beat), "x", true);
      const y = u.valToPos(Math.min(u.scales.y.max, Math.max(u.scales.y.min, value(beat))), "y", true);
      context.fillStyle = PEAK;
      context.beginPath();
      context.arc(x, y, 4 * ratio, 0, 2 * Math.PI);
      context.fill();
      context.beginPath();
      context.moveTo(x - 5 * ratio, top);
      context.lineTo(x + 5 * ratio, top);
      context.lineTo(x, top + 8 * ratio);
      context.closePath();
      context.fill();
      peaks += 1;
    }
    context.restore();
    lead.holder.dataset.peaksDrawn = String(peaks);
    lead.holder.dataset.crossingsShown = String(crossings);
  }

  function chartSize() {
    const width = Math.max(240, $("charts").clientWidth - 2);
    const height = window.innerWidth < 640 ? 170 : 230;
    return { width, height };
  }

  function makeChart(lead) {
    const holder = element("div", null, { class: "lead", "data-lead": lead.name });
    holder.append(element("p", lead.name, { class: "lead-name" }));
    $("charts").append(holder);
    lead.holder = holder;
    const options = {
      ...chartSize(),
      scales: { x: { time: false, auto: false }, y: { auto: false, range: () => [lead.scale.min, lead.scale.max] } },
      axes: [
        { label: view.rate ? "time (s)" : "sample", size: 44, grid: { show: false }, ticks: { show: true } },
        { label: "robust units", size: 56, grid: { show: false }, incrs: [0.5, 1, 2, 5] },
      ],
      series: [{}, { label: lead.name, stroke: "#111111", width: 1.2, points: { show: false } }],
      cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false }, y: false },
      legend: { show: false },
      hooks: { drawClear: [drawGrid], draw: [(u) => drawMarks(u, lead)] },
    };
    lead.scale = lead.scale || { median: 0, amplitude: 1, min: -1, max: 1 };
    lead.plot = new uPlot(options, [[], []], holder);
  }

  function render(lead) {
    if (!lead.plot || !lead.cache) return;
    const cache = lead.cache;
    const from = Math.max(cache.from, view.start - 1);
    const to = Math.min(cache.to, view.start + view.span + 1);
    const xs = [];
    const ys = [];
    for (let index = from; index < to; index += 1) {
      xs.push(unit(index));
      ys.push((cache.signal[index - cache.from] - lead.scale.median) / lead.scale.amplitude);
    }
    lead.plot.batch(() => {
      lead.plot.setData([xs, ys], false);
      lead.plot.setScale("y", { min: lead.scale.min, max: lead.scale.max });
      lead.plot.setScale("x", { min: unit(view.start), max: unit(view.start + view.span) });
    });
  }

  let frame = 0;
  function redraw() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (!view) return;
      for (const lead of view.leads) render(lead);
    });
  }

  // The window shown plus one window's margin each side; loaded again when the view nears an edge.
  function needs(lead) {
    if (view.start >= lead.n) return false;
    const cache = lead.cache;
    const end = Math.min(lead.n, view.start + view.span);
    const wantFrom = Math.max(0, view.start - Math.floor(view.span / 2));
    const wantTo = Math.min(lead.n, end + Math.floor(view.span / 2));
    return !(cache && cache.from <= wantFrom && cache.to >= wantTo);
  }

  function settle() {
    if (view && view.leads.every((item) => !item.loading && !needs(item))) charts.dataset.state = "ready";
  }

  async function ensure(lead) {
    if (!needs(lead)) return;
    const from = Math.max(0, view.start - view.span);
    const to = Math.min(lead.n, from + Math.min(MAX_WINDOW, 3 * view.span));
    const key = `${from}:${to}`;
    if (lead.loading === key) return;
    lead.loading = key;
    const opened = view;
    const id = encodeURIComponent(opened.id);
    const name = encodeURIComponent(lead.name);
    charts.dataset.state = "loading";
    try {
      const [signal, beats] = await Promise.all([
        api("GET", `ecgs/${id}/signal?lead=${name}&start=${from}&count=${to - from}`),
        opened.rate ? api("GET", `ecgs/${id}/beats?lead=${name}&start=${from}&end=${to}`) : null,
      ]);
      if (view !== opened || lead.loading !== key) return;
      lead.loading = null;
      lead.cache = { from, to: from + signal.signal.length, signal: signal.signal, beats: beats ? beats.beats : [] };
      if (!lead.scaled) {
        lead.scale = robustScale(signal.signal);
        lead.scaled = true;
      }
      opened.windowsLoaded += 1;
      charts.dataset.windowsLoaded = String(opened.windowsLoaded);
      render(lead);
    } catch (error) {
      if (lead.loading === key) lead.loading = null;
      if (view === opened) failed(error);
    } finally {
      if (view === opened) settle();
    }
  }

  let fetchTimer = 0;
  function setView(start, span) {
    if (!view) return;
    span = Math.round(Math.min(view.maxSpan, Math.max(view.minSpan, span)));
    start = Math.round(Math.min(Math.max(0, view.total - span), Math.max(0, start)));
    view.start = start;
    view.span = span;
    const position = $("position");
    position.max = String(Math.max(0, view.total - span));
    position.step = String(Math.max(1, Math.round(span / 20)));
    position.value = String(start);
    const label = view.rate
      ? `${clock(start / view.rate)} – ${clock((start + span) / view.rate)} of ${clock(view.total / view.rate)} (${(span / view.rate).toFixed(1)} s shown)`
      : `samples ${start}–${start + span} of ${view.total}`;
    $("window-label").textContent = label;
    position.setAttribute("aria-valuetext", label);
    charts.dataset.start = String(start);
    charts.dataset.span = String(span);
    redraw();
    clearTimeout(fetchTimer);
    if (view.leads.some(needs)) charts.dataset.state = "loading";
    fetchTimer = setTimeout(() => {
      if (!view) return;
      for (const lead of view.leads) ensure(lead);
      settle();
    }, 60);
  }

  const charts = $("charts");

  let openedId = null; // the ECG the ECG screen shows, ready or not
  let ecgWatcher = null; // following it while it is processed

  function closeEcg() {
    if (ecgWatcher) ecgWatcher.stop();
    ecgWatcher = null;
    openedId = null;
    if (view) for (const lead of view.leads) if (lead.plot) lead.plot.destroy();
    view = null;
    charts.replaceChildren();
    delete charts.dataset.windowsLoaded;
    delete charts.dataset.state;
  }

  const STATE_TEXT = {
    awaiting_upload:
      "This ECG is awaiting upload: it was announced, but its file has not arrived. This page updates when it does.",
    processing: "This ECG is processing: its file is being read. This page updates when it is ready.",
    failed: "This ECG failed: its file could not be made into an ECG. Delete it and upload the file again.",
    deleted: "This ECG was deleted.",
  };

  // An ECG that is not ready: its status (and why it failed) instead of a chart.
  function showState(status, error) {
    $("ecg-ready").hidden = true;
    const state = $("ecg-state");
    state.hidden = false;
    state.dataset.status = status;
    $("ecg-state-text").textContent = STATE_TEXT[status] || `This ECG is ${statusText(status)}.`;
    const why = $("ecg-state-error");
    why.textContent = status === "failed" && error ? `Why: ${error}` : "";
    why.hidden = !why.textContent;
    $("ecg-state-delete").hidden = status === "deleted";
  }

  function openPending(id, summary) {
    $("ecg-title").textContent = `ECG ${id}`;
    $("ecg-meta").textContent = `Recorded ${summary.date.replace("T", " ")} · ${statusText(summary.status)}`;
    showState(summary.status, summary.error);
    show("ecg-view");
    $("ecg-title").focus();
    if (!IN_PROGRESS.has(summary.status)) return;
    ecgWatcher = watch(id, (status, info) => {
      if (openedId !== id) return;
      if (status !== "ready") {
        $("ecg-meta").textContent = `Recorded ${summary.date.replace("T", " ")} · ${statusText(status)}`;
        showState(status, info.error);
        return;
      }
      readySummary(id, summary.date, info.insights)
        .then((ready) => (openedId === id ? openEcg(id, ready, info.insights) : null))
        .catch(failed);
    });
  }

  function insightRows(insights) {
    const head = $("insights-head");
    const rows = $("insights-rows");
    head.replaceChildren();
    rows.replaceChildren();
    const top = element("tr");
    top.append(element("th", "Lead", { scope: "col" }));
    for (const lead of insights.leads) top.append(element("th", lead.name, { scope: "col" }));
    head.append(top);
    const metrics = [
      ["Samples", "number_of_samples", ""],
      ["Beats", "beats", ""],
      ["Heart rate", "heart_rate_bpm", " bpm"],
      ["RR mean", "rr_mean_ms", " ms"],
      ["RR SDNN", "rr_sdnn_ms", " ms"],
      ["RR RMSSD", "rr_rmssd_ms", " ms"],
      ["Zero crossings", "zero_crossings", ""],
    ];
    for (const [label, field, suffix] of metrics) {
      const row = element("tr", null, { "data-metric": field });
      row.append(element("th", label, { scope: "row" }));
      for (const lead of insights.leads) {
        const value = lead[field];
        row.append(element("td", value === null || value === undefined ? "—" : `${value}${suffix}`));
      }
      rows.append(row);
    }
  }

  // `known`: its summary when it is not on the list's page (an upload just processed), and
  // `knownInsights` when they were just read.
  async function openEcg(id, known, knownInsights) {
    closeEcg();
    say("");
    const summary = known || summaries.get(id);
    openedId = id;
    if (summary.status !== "ready") {
      openPending(id, summary);
      return;
    }
    const insights = knownInsights || (await api("GET", `ecgs/${encodeURIComponent(id)}/insights`));
    if (openedId !== id) return; // another was opened meanwhile
    $("ecg-state").hidden = true;
    $("ecg-ready").hidden = false;
    const rate = summary.sampling_rate_hz;
    const total = Math.max(...summary.leads.map((lead) => lead.number_of_samples));
    view = {
      id,
      rate,
      total,
      start: 0,
      span: 0,
      windowsLoaded: 0,
      minSpan: Math.min(total, rate ? Math.round(rate / 2) : 50),
      maxSpan: Math.min(total, Math.floor(MAX_WINDOW / 3), rate ? Math.round(rate * 120) : 20000),
      leads: summary.leads.map((lead) => ({ name: lead.name, n: lead.number_of_samples })),
    };
    $("ecg-title").textContent = `ECG ${id}`;
    $("ecg-meta").textContent = `Recorded ${summary.date.replace("T", " ")} · ${summary.leads.length} lead${
      summary.leads.length === 1 ? "" : "s"
    } · ${rate ? `${rate} Hz, ${clock(total / rate)}` : `${total} samples, no sampling rate`} · ${statusText(summary.status)}`;
    $("scale-note").textContent = rate
      ? "ECG paper grid at 25 mm/s: small squares 0.04 s (1 mm), large squares 0.2 s (5 mm); coarser when zoomed out. " +
        "Amplitude: the gain is unknown (the signals are raw integers), so each lead is scaled by its robust " +
        "amplitude (its 1st–99th percentile range = 1 unit, drawn as 10 mm; small squares 0.1 unit), not in mV."
      : "No sampling rate: time is in samples, and no beats or heart rate can be detected. Amplitude: the gain is " +
        "unknown (raw integers), so each lead is scaled by its robust amplitude (1st–99th percentile range = 1 unit).";
    insightRows(insights);
    show("ecg-view");
    for (const lead of view.leads) makeChart(lead);
    setView(0, rate ? rate * 10 : 2000);
    charts.focus();
  }

  window.addEventListener("resize", () => {
    if (!view) return;
    for (const lead of view.leads) if (lead.plot) lead.plot.setSize(chartSize());
    redraw();
  });

  function zoom(factor, anchor) {
    if (!view) return;
    const at = anchor === undefined ? 0.5 : anchor;
    const span = Math.min(view.maxSpan, Math.max(view.minSpan, view.span * factor));
    setView(view.start + (view.span - span) * at, span);
  }

  function pan(fraction) {
    if (view) setView(view.start + view.span * fraction, view.span);
  }

  $("pan-left").addEventListener("click", () => pan(-0.5));
  $("pan-right").addEventListener("click", () => pan(0.5));
  $("zoom-in").addEventListener("click", () => zoom(0.5));
  $("zoom-out").addEventListener("click", () => zoom(2));
  $("position").addEventListener("input", (event) => {
    if (view) setView(Number(event.target.value), view.span);
  });
  charts.addEventListener("keydown", (event) => {
    if (!view) return;
    const keys = {
      ArrowLeft: () => pan(event.shiftKey ? -1 : -0.1),
      ArrowRight: () => pan(event.shiftKey ? 1 : 0.1),
      PageUp: () => pan(-1),
      PageDown: () => pan(1),
      Home: () => setView(0, view.span),
      End: () => setView(view.total, view.span),
      "+": () => zoom(0.5),
      "=": () => zoom(0.5),
      "-": () => zoom(2),
    };
    if (keys[event.key]) {
      event.preventDefault();
      keys[event.key]();
    }
  });

  // Drag (mouse, pen or finger) to pan; ctrl + wheel (or a trackpad pinch) to zoom; a
  // horizontal wheel pans. A plain vertical wheel keeps scrolling the page.
  let drag = null;
  charts.addEventListener("pointerdown", (event) => {
    if (!view || event.button !== 0) return;
    drag = { x: event.clientX, start: view.start, id: event.pointerId };
    charts.setPointerCapture(event.pointerId);
  });
  charts.addEventListener("pointermove", (event) => {
    if (!drag || !view || event.pointerId !== drag.id) return;
    const lead = view.leads[0];
    const width = lead.plot ? lead.plot.bbox.width / (devicePixelRatio || 1) : charts.clientWidth;
    setView(drag.start - ((event.clientX - drag.x) / width) * view.span, view.span);
  });
  const endDrag = () => {
    drag = null;
  };
  charts.addEventListener("pointerup", endDrag);
  charts.addEventListener("pointercancel", endDrag);
  charts.addEventListener(
    "wheel",
    (event) => {
      if (!view) return;
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        const bounds = charts.getBoundingClientRect();
        const anchor = Math.min(1, Math.max(0, (event.clientX - bounds.left - 56) / (bounds.width - 56)));
        zoom(event.deltaY > 0 ? 1.25 : 0.8, anchor);
      } else if (Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
        event.preventDefault();
        pan(event.deltaX / 500);
      }
    },
    { passive: false },
  );

  $("ecg-back").addEventListener("click", () => {
    closeEcg();
    show("ecgs-view");
    ecgPager.reload().catch(failed);
  });
  $("ecg-delete").addEventListener("click", () => {
    if (openedId) deleteEcg(openedId);
  });
  $("ecg-state-delete").addEventListener("click", () => {
    if (openedId) deleteEcg(openedId);
  });

  // ---- users (admins) ---------------------------------------------------------------------

  const userPager = pager("user", "users", (items) => {
    const rows = $("user-rows");
    rows.replaceChildren();
    for (const user of items) {
      const row = element("tr", null, { "data-user": user.username });
      row.append(element("th", user.username, { scope: "row" }));
      row.append(element("td", user.role));
      const created = element("td");
      created.append(element("time", user.created_at.replace("T", " "), { datetime: user.created_at }));
      row.append(created);
      const actions = element("td", null, { class: "actions" });
      const remove = button("Delete", () => deleteUser(user.username), {
        class: "danger",
        "aria-label": `Delete user ${user.username}`,
      });
      if (session && user.username === session.username) {
        remove.disabled = true;
        remove.title = "You cannot delete your own account.";
      }
      actions.append(remove);
      row.append(actions);
      rows.append(row);
    }
  });

  async function deleteUser(username) {
    if (!window.confirm(`Delete user “${username}” and all of their ECGs?`)) return;
    try {
      await api("DELETE", `users/${encodeURIComponent(username)}`);
      $("user-message").textContent = `Deleted user “${username}”.`;
      await userPager.reload();
    } catch (error) {
      $("user-message").textContent = error.message;
    }
  }

  $("user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = $("user-message");
    const body = {
      username: $("new-username").value.trim(),
      password: $("new-password").value,
      role: $("new-role").value,
    };
    try {
      const user = await api("POST", "users", body);
      message.textContent = `Created ${user.role} “${user.username}”.`;
      $("user-form").reset();
      await userPager.reload();
    } catch (error) {
      message.textContent =
        error.code === "username_taken" ? `The username “${body.username}” is taken.` : error.message;
    }
  });

  // ---- start ------------------------------------------------------------------------------

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    start(saved).catch(() => {
      forget();
      show("login-view");
    });
  } else {
    show("login-view");
  }
})();
