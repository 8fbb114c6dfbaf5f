/* Reading workstation: view grid with enlarge/zoom/pan, cine player, keyboard shortcuts,
 * draft autosave and activity (visibility/idle) reports. No inline scripts (CSP). */
(function () {
  "use strict";
  var root = document.getElementById("workstation");
  if (!root) { return; }
  var form = document.getElementById("answer-form") || document.getElementById("prepare-form");
  var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  var fps = parseFloat(root.dataset.fps) || 25;
  var IDLE_MS = 90000, HEARTBEAT_MS = 15000, DRAFT_DELAY_MS = 800;
  /* Translated strings come from Django's JavaScript catalog (/jsi18n/, loaded by base.html). */
  var gettext = window.gettext || function (text) { return text; };

  function post(url, body) {
    if (!url) { return Promise.resolve(); }
    return fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)
    }).catch(function () { /* the server clamps gaps; a lost event costs nothing */ });
  }

  /* ---- activity: the server times everything; the page only says what happens ---- */
  var activityUrl = root.dataset.activityUrl;
  var idle = false, lastInput = Date.now(), submitted = false;
  function report(kind) { if (!submitted) { post(activityUrl, {kind: kind}); } }
  document.addEventListener("visibilitychange", function () {
    report(document.visibilityState === "hidden" ? "hidden" : "visible");
  });
  function noteInput() {
    lastInput = Date.now();
    if (idle) { idle = false; report("active"); }
  }
  ["keydown", "mousemove", "mousedown", "wheel", "touchstart"].forEach(function (name) {
    document.addEventListener(name, noteInput, {passive: true});
  });
  window.setInterval(function () {
    if (document.visibilityState === "hidden") { return; }
    if (!idle && Date.now() - lastInput > IDLE_MS) { idle = true; report("idle"); return; }
    if (!idle) { report("heartbeat"); }
  }, HEARTBEAT_MS);
  window.addEventListener("pagehide", function () { report("hidden"); });

  /* ---- draft autosave ---- */
  var draftUrl = root.dataset.draftUrl, draftTimer = null;
  var draftStatus = root.querySelector("[data-draft-status]");
  function formDraft() {
    var data = new FormData(form), draft = {};
    var severe = data.get("severe");
    if (severe) { draft.severe = severe === "yes"; }
    var confidence = parseInt(data.get("confidence"), 10);
    if (!isNaN(confidence)) { draft.confidence = confidence; }
    draft.conditions = data.getAll("conditions");
    var grade = parseInt(data.get("ivh_grade"), 10);
    if (!isNaN(grade)) { draft.ivh_grade = grade; }
    draft.comment = data.get("comment") || "";
    return draft;
  }
  function saveDraft() {
    if (!draftUrl || submitted) { return; }
    post(draftUrl, formDraft()).then(function (response) {
      if (draftStatus && response && response.ok) { draftStatus.textContent = gettext("Draft saved") + " ✓"; }
    });
  }
  if (form) {
    form.addEventListener("input", function () {
      if (draftStatus) { draftStatus.textContent = ""; }
      window.clearTimeout(draftTimer);
      draftTimer = window.setTimeout(saveDraft, DRAFT_DELAY_MS);
    });
    form.addEventListener("submit", function (event) {
      if (submitted) { event.preventDefault(); return; }  /* one submission per page */
      submitted = true;
      window.clearTimeout(draftTimer);
      var button = form.querySelector("button[type=submit]");
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
  }

  /* ---- view grid: enlarge, zoom, pan ---- */
  var lightbox = document.getElementById("ws-lightbox");
  var big = lightbox ? lightbox.querySelector("img") : null;
  var zoom = 1, panX = 0, panY = 0, drag = null;
  function applyTransform() {
    big.style.transform = "translate(" + panX + "px," + panY + "px) scale(" + zoom + ")";
  }
  function openView(img) {
    if (!img || !lightbox) { return; }
    big.src = img.src; big.alt = img.alt;
    zoom = 1; panX = 0; panY = 0; applyTransform();
    lightbox.hidden = false;
  }
  function closeView() { if (lightbox) { lightbox.hidden = true; } }
  function zoomBy(factor) { zoom = Math.min(8, Math.max(1, zoom * factor)); if (zoom === 1) { panX = panY = 0; } applyTransform(); }
  root.querySelectorAll(".ws-view img").forEach(function (img) {
    img.addEventListener("click", function () { openView(img); });
  });
  if (lightbox) {
    lightbox.addEventListener("wheel", function (event) { event.preventDefault(); zoomBy(event.deltaY < 0 ? 1.2 : 1 / 1.2); }, {passive: false});
    lightbox.addEventListener("mousedown", function (event) { drag = {x: event.clientX - panX, y: event.clientY - panY, moved: false}; });
    lightbox.addEventListener("mousemove", function (event) {
      if (!drag) { return; }
      panX = event.clientX - drag.x; panY = event.clientY - drag.y; drag.moved = true; applyTransform();
    });
    lightbox.addEventListener("mouseup", function () { var moved = drag && drag.moved; drag = null; if (!moved && zoom === 1) { closeView(); } });
  }
  function viewByKey(key) { return root.querySelector('.ws-view[data-view-key="' + key + '"] img'); }

  /* ---- cine player ---- */
  var videos = Array.prototype.slice.call(root.querySelectorAll("[data-cine] video"));
  var current = 0, speeds = [0.25, 0.5, 1, 1.5, 2], speedIndex = 2, looping = true;
  var speedLabel = root.querySelector("[data-cine-speed]"), frameLabel = root.querySelector("[data-cine-frame]");
  function video() { return videos[current]; }
  function markCurrent() { videos.forEach(function (v, i) { v.parentNode.classList.toggle("cine-current", i === current); }); }
  function toggle() { var v = video(); if (!v) { return; } if (v.paused) { v.play().catch(function () {}); } else { v.pause(); } }
  function step(frames) { var v = video(); if (!v) { return; } v.pause(); v.currentTime = Math.max(0, Math.min(v.duration || 0, v.currentTime + frames / fps)); }
  function setSpeed(delta) {
    speedIndex = Math.max(0, Math.min(speeds.length - 1, speedIndex + delta));
    videos.forEach(function (v) { v.playbackRate = speeds[speedIndex]; });
    if (speedLabel) { speedLabel.textContent = speeds[speedIndex] + "×"; }
  }
  function toggleLoop() {
    looping = !looping;
    videos.forEach(function (v) { v.loop = looping; });
    var button = root.querySelector('[data-cine-action="loop"]');
    if (button) { button.setAttribute("aria-pressed", String(looping)); }
  }
  videos.forEach(function (v, i) {
    v.addEventListener("click", function () { current = i; markCurrent(); toggle(); });
    v.addEventListener("timeupdate", function () {
      if (i === current && frameLabel) { frameLabel.textContent = String(Math.round(v.currentTime * fps) + 1); }
    });
  });
  markCurrent();
  var actions = {toggle: toggle, back: function () { step(-1); }, forward: function () { step(1); },
    slower: function () { setSpeed(-1); }, faster: function () { setSpeed(1); }, loop: toggleLoop};
  root.querySelectorAll("[data-cine-action]").forEach(function (button) {
    button.addEventListener("click", function () { actions[button.dataset.cineAction](); });
  });

  /* ---- material preparation: the frame on screen becomes the view's pick ---- */
  /* A view that more than one sweep shows (MSV of left and right sagittal sweeps) lists them
     space-separated: the current sweep if it is one of them, else the first; its select
     records which. */
  function pickSweep(button) {
    var names = button.dataset.pickSweep.split(" "), now = video();
    var nowName = now ? now.parentNode.dataset.orientation : null;
    var name = names.indexOf(nowName) >= 0 ? nowName : names[0];
    var select = root.querySelector('select[name="sweep_' + button.dataset.pickView + '"]');
    if (select) { select.value = name; }
    return root.querySelector('[data-cine][data-orientation="' + name + '"] video');
  }
  root.querySelectorAll("[data-pick-view]").forEach(function (button) {
    button.addEventListener("click", function () {
      var sweep = pickSweep(button);
      var input = root.querySelector('input[name="frame_' + button.dataset.pickView + '"]');
      var missing = root.querySelector('input[name="missing_' + button.dataset.pickView + '"]');
      if (!sweep || !input) { return; }
      sweep.pause();
      /* At the very end currentTime equals the duration: that is the last frame. */
      var frame = Math.round(sweep.currentTime * fps) + 1, last = parseInt(input.max, 10);
      input.value = String(last ? Math.min(frame, last) : frame);
      if (missing) { missing.checked = false; }
    });
  });

  /* ---- keyboard ---- */
  function setSevere(value) {
    var radio = form && form.querySelector('input[name=severe][value="' + value + '"]');
    if (radio) { radio.checked = true; radio.dispatchEvent(new Event("input", {bubbles: true})); }
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target, tag = target && target.tagName;
    var typing = tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "radio" && target.type !== "checkbox");
    if (typing) {
      if (event.key === "Escape") { target.blur(); }
      return;  /* Enter in a field submits the form natively */
    }
    var key = event.key, handled = true;
    if (lightbox && !lightbox.hidden) {
      if (key === "Escape") { closeView(); }
      else if (key === "+" || key === "=") { zoomBy(1.25); }
      else if (key === "-") { zoomBy(0.8); }
      else if (key === "0") { zoom = 1; panX = panY = 0; applyTransform(); }
      else if (key === "ArrowLeft") { panX += 40; applyTransform(); }
      else if (key === "ArrowRight") { panX -= 40; applyTransform(); }
      else if (key === "ArrowUp") { panY += 40; applyTransform(); }
      else if (key === "ArrowDown") { panY -= 40; applyTransform(); }
      else if (/^[1-6]$/.test(key)) { openView(viewByKey(key)); }
      else { handled = false; }
    } else if (/^[1-6]$/.test(key)) { openView(viewByKey(key)); }
    else if (key === " ") { toggle(); }
    else if (key === ",") { step(-1); }
    else if (key === ".") { step(1); }
    else if (key === "[") { setSpeed(-1); }
    else if (key === "]") { setSpeed(1); }
    else if (key === "l" || key === "L") { toggleLoop(); }
    else if (key === "v" || key === "V") { if (videos.length) { current = (current + 1) % videos.length; markCurrent(); } }
    else if (key === "y" || key === "Y") { setSevere("yes"); }
    else if (key === "n" || key === "N") { setSevere("no"); }
    else if (key === "c" || key === "C") { var c = form && form.querySelector("input[name=confidence]"); if (c) { c.focus(); c.select(); } }
    else if (key === "?") { var d = root.querySelector(".ws-keys"); if (d) { d.open = !d.open; } }
    else if (key === "Enter" && form) { form.requestSubmit(); }
    else { handled = false; }
    if (handled) { event.preventDefault(); }
  });
}());
