/* Dataset upload through the resumable (chunked) upload API, with a progress bar.
   POST /v1/datasets/{id}/uploads → PATCH /v1/uploads/{upload_id}?offset=N per chunk →
   POST /v1/uploads/{upload_id}/finish. After a failed chunk it asks the server for the
   offset to resume from (GET /v1/uploads/{upload_id}) and carries on. */
(function () {
  "use strict";
  var CHUNK_BYTES = 8 * 1024 * 1024;
  var MAX_RETRIES = 5;

  var panel = document.getElementById("upload");
  if (!panel) { return; }
  var input = document.getElementById("upload-file");
  var button = document.getElementById("upload-start");
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var headers = { "X-CSRFToken": panel.dataset.csrf };

  function show(fraction, text) {
    bar.hidden = false;
    var percent = Math.round(fraction * 100);
    bar.setAttribute("aria-valuenow", String(percent));
    bar.firstElementChild.style.width = percent + "%";
    status.textContent = text;
  }

  function api(method, url, body, extraHeaders) {
    return fetch(url, {
      method: method, credentials: "same-origin", body: body,
      headers: Object.assign({ "Accept": "application/json" }, headers, extraHeaders || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) { var error = new Error(json.detail || response.statusText); error.status = response.status; throw error; }
        return json;
      });
    });
  }

  function sendFrom(file, uploadId, offset, retries) {
    if (offset >= file.size) { return Promise.resolve(); }
    var end = Math.min(offset + CHUNK_BYTES, file.size);
    show(offset / file.size, panel.dataset.labelSending + " " + Math.round(100 * offset / file.size) + "%");
    return api("PATCH", panel.dataset.uploadUrl + uploadId + "?offset=" + offset, file.slice(offset, end),
      { "Content-Type": "application/octet-stream" })
      .then(function () { return sendFrom(file, uploadId, end, MAX_RETRIES); })
      .catch(function (error) {
        if (retries <= 0 || (error.status && error.status < 500 && error.status !== 409)) { throw error; }
        status.textContent = panel.dataset.labelRetry;
        return new Promise(function (resolve) { setTimeout(resolve, 1000); })
          .then(function () { return api("GET", panel.dataset.uploadUrl + uploadId); })
          .then(function (upload) { return sendFrom(file, uploadId, upload.offset, retries - 1); });
      });
  }

  /* The API's English sentence in the console's language (as it is, when that cannot be had). */
  function translated(sentence) {
    if (!sentence) { return Promise.resolve(sentence); }
    return api("POST", panel.dataset.translateUrl, JSON.stringify({ sentences: [sentence] }),
      { "Content-Type": "application/json" })
      .then(function (json) { return json.sentences[0]; })
      .catch(function () { return sentence; });
  }

  /* What the finished upload's report says: valid, still validating, or why it failed. */
  function outcome(report) {
    if (report.status === "validating") { return panel.dataset.labelValidating; }
    if (report.status !== "invalid") { return panel.dataset.labelDone; }
    var first = (report.errors || [])[0];
    var more = report.error_count > 1 ? " (" + report.error_count + " " + panel.dataset.labelMoreErrors + ")" : "";
    return translated(first ? first.reason : "").then(function (why) {
      var reason = first ? " " + (first.line ? panel.dataset.labelLine.replace("{number}", first.line) + ": " : "") +
        (first.field ? first.field + ": " : "") + why : "";
      return panel.dataset.labelInvalid + reason + more;
    });
  }

  button.addEventListener("click", function () {
    var file = input.files[0];
    if (!file) { input.focus(); return; }
    button.disabled = true;
    status.classList.remove("errorlist");
    var body = JSON.stringify({ filename: file.name, total_bytes: file.size });
    api("POST", panel.dataset.createUrl, body, { "Content-Type": "application/json" })
      .then(function (upload) {
        return sendFrom(file, upload.upload_id, 0, MAX_RETRIES).then(function () {
          show(1, panel.dataset.labelFinishing);
          return api("POST", panel.dataset.uploadUrl + upload.upload_id + "/finish");
        });
      })
      .then(function (report) {
        return Promise.resolve(outcome(report)).then(function (text) {
          show(1, text);
          if (report.status === "invalid") { status.classList.add("errorlist"); }
          input.value = "";
          document.body.dispatchEvent(new CustomEvent("files-changed"));
        });
      })
      .catch(function (error) {
        return translated(error.message).then(function (text) { status.textContent = text; });
      })
      .finally(function () { button.disabled = false; });
  });
})();
