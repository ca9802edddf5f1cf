// Upload page: each file goes up in its own XHR (real per-file progress), then its job(s) are polled
// until done or failed. Plain JS, no external scripts: the intranet is offline.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var input = document.getElementById("files");
  var zone = document.getElementById("dropzone");
  var list = document.getElementById("upload-list");
  var summary = document.getElementById("upload-summary");
  if (!form || !input || !list) return;

  var MAX_PARALLEL = 3;
  var POLL_MS = 800;
  var queue = [];
  var active = 0;
  var counts = { total: 0, done: 0, failed: 0, duplicate: 0 };

  var STATUS = { queued: "排队中", running: "解析中", done: "已完成", failed: "失败" };
  var STAGE = { parsing: "解析中", mining: "提取做法中", embedding: "计算语义向量", indexing: "编入索引中", grouping: "归类中" };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function updateSummary() {
    var pending = counts.total - counts.done - counts.failed;
    var parts = ["共 " + counts.total + " 份", "已完成 " + counts.done + " 份"];
    if (counts.duplicate) parts.push("其中重复 " + counts.duplicate + " 份");
    if (counts.failed) parts.push("失败 " + counts.failed + " 份");
    if (pending > 0) parts.push("处理中 " + pending + " 份");
    summary.textContent = parts.join("，");
  }

  // One row per file (and one per document inside a .zip once the server has unpacked it).
  function makeRow(name, parent) {
    var li = el("li", "upload-item" + (parent ? " children" : ""));
    var row = el("div", "row");
    var nameEl = el("span", "name", name);
    var status = el("span", "status status-queued", "等待上传");
    row.appendChild(nameEl);
    row.appendChild(status);
    var bar = el("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", name + " 进度");
    var detail = el("div", "detail small");
    li.appendChild(row);
    li.appendChild(bar);
    li.appendChild(detail);
    if (parent && parent.nextSibling) list.insertBefore(li, parent.nextSibling);
    else list.appendChild(li);
    return { li: li, status: status, bar: bar, detail: detail, name: name };
  }

  function setStatus(row, text, state) {
    row.status.textContent = text;
    row.status.className = "status status-" + state;
    row.li.dataset.status = state;
  }

  function fail(row, reason) {
    setStatus(row, "失败", "failed");
    row.bar.hidden = true;
    row.detail.textContent = "";
    row.detail.appendChild(el("div", "reason", reason));
    counts.failed += 1;
    updateSummary();
  }

  function errorMessage(xhr) {
    var body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
    var msg = null;
    if (body) {
      var d = body.detail !== undefined ? body.detail : body.error;
      if (typeof d === "string") msg = d;
      else if (d && d.message) msg = d.message + (d.detail ? "（" + d.detail + "）" : "");
      else if (Array.isArray(d) && d.length && d[0].msg) msg = "请求格式不正确：" + d[0].msg;
      else if (body.message) msg = body.message;
    }
    if (!msg) {
      if (xhr.status === 413) msg = "文件太大，超过了允许的上限。";
      else if (xhr.status === 0) msg = "无法连接服务器，请检查网络后重试。";
      else msg = "服务器返回错误（HTTP " + xhr.status + "）。";
    }
    return msg;
  }

  function link(href, text) {
    var a = el("a", null, text);
    a.href = href;
    return a;
  }

  function showDone(row, job) {
    row.bar.value = 100;
    row.bar.hidden = true;
    row.detail.textContent = "";
    if (job.duplicate === "exact") {
      setStatus(row, "已完成（重复文件）", "done");
      row.li.dataset.duplicate = "exact";
      row.detail.appendChild(document.createTextNode("与已入库的文档完全相同，未重复入库。"));
      if (job.document_id) row.detail.appendChild(link("/documents/" + job.document_id, "查看已有文档"));
      counts.duplicate += 1;
    } else {
      setStatus(row, "已完成", "done");
      if (job.duplicate === "near") {
        row.li.dataset.duplicate = "near";
        row.detail.appendChild(document.createTextNode("内容与已有文档高度相似，已入库并作标注。"));
      }
      if (job.document_id) {
        var a = link("/documents/" + job.document_id, "查看文档");
        row.detail.appendChild(a);
        fetchCount(job.document_id, a);
      }
    }
    counts.done += 1;
    updateSummary();
  }

  // Practice count (and, for a near duplicate, the earlier document) — best effort: the row is complete without it.
  function fetchCount(docId, anchor) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/api/documents/" + docId);
    xhr.onload = function () {
      if (xhr.status !== 200) return;
      var doc;
      try { doc = JSON.parse(xhr.responseText); } catch (e) { return; }
      var n = doc.practice_count;
      if (n === undefined && Array.isArray(doc.practices)) n = doc.practices.length;
      if (n !== undefined) anchor.parentNode.insertBefore(document.createTextNode("提取经验做法 " + n + " 条。"), anchor);
      if (doc.near_duplicate_of) {
        anchor.parentNode.appendChild(document.createTextNode(" · "));
        anchor.parentNode.appendChild(link("/documents/" + doc.near_duplicate_of, "查看相似的已有文档"));
      }
    };
    xhr.send();
  }

  function poll(row, jobId) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/api/jobs/" + encodeURIComponent(jobId));
    xhr.onload = function () {
      if (xhr.status !== 200) { fail(row, errorMessage(xhr)); return; }
      var job = JSON.parse(xhr.responseText);
      track(row, job);
    };
    xhr.onerror = function () { setTimeout(function () { poll(row, jobId); }, POLL_MS * 3); };
    xhr.send();
  }

  function track(row, job) {
    if (job.status === "done") { showDone(row, job); return; }
    if (job.status === "failed") { fail(row, job.error || "解析失败，原因未知。"); return; }
    var ocr = /^ocr (\d+)\/(\d+)$/.exec(job.stage || "");
    var label = job.status !== "running" ? STATUS.queued
      : ocr ? "文字识别中（第 " + ocr[1] + " / " + ocr[2] + " 页）" : (STAGE[job.stage] || STATUS.running);
    setStatus(row, label, job.status === "running" ? "running" : "queued");
    row.bar.hidden = false;
    row.bar.value = 50 + Math.round(50 * Math.max(0, Math.min(1, job.progress || 0)));
    setTimeout(function () { poll(row, job.id); }, POLL_MS);
  }

  function send(item) {
    active += 1;
    var row = item.row;
    var data = new FormData();
    data.append("files", item.file, item.file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/documents");
    setStatus(row, "上传中", "running");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) row.bar.value = Math.round(50 * e.loaded / e.total);
    };
    xhr.onload = function () {
      active -= 1;
      next();
      if (xhr.status !== 202 && xhr.status !== 200 && xhr.status !== 201) { fail(row, errorMessage(xhr)); return; }
      var jobs = (JSON.parse(xhr.responseText).jobs) || [];
      if (!jobs.length) { fail(row, "压缩包里没有可识别的材料（PDF、Word 或文本文件）。"); return; }
      if (jobs.length === 1 && jobs[0].filename === item.file.name) { track(row, jobs[0]); return; }
      // A .zip: the file row becomes a header and each document inside gets its own row.
      counts.total += jobs.length - 1;
      setStatus(row, "已解压，共 " + jobs.length + " 份", "done");
      row.bar.hidden = true;
      row.li.dataset.status = "archive";
      for (var i = jobs.length - 1; i >= 0; i--) track(makeRow(jobs[i].filename, row.li), jobs[i]);
      updateSummary();
    };
    xhr.onerror = function () { active -= 1; next(); fail(row, "上传中断：无法连接服务器，请检查网络后重试。"); };
    xhr.send(data);
  }

  function next() {
    while (active < MAX_PARALLEL && queue.length) send(queue.shift());
  }

  function add(files) {
    for (var i = 0; i < files.length; i++) {
      queue.push({ file: files[i], row: makeRow(files[i].name) });
      counts.total += 1;
    }
    updateSummary();
    next();
  }

  input.addEventListener("change", function () {
    if (input.files && input.files.length) add(input.files);
    input.value = "";
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (input.files && input.files.length) add(input.files);
  });
  if (zone) {
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) add(e.dataTransfer.files);
    });
    zone.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
    });
    zone.tabIndex = 0;
  }
})();
