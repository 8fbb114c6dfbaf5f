/* Reading workstation: view grid with enlarge, viewing tools (window/level, zoom, pan,
 * caliper: pure view state, only their use counted and sent with the answer), cine player,
 * keyboard shortcuts, draft autosave and activity (visibility/idle) reports. No inline
 * scripts (CSP). */
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
  var interpolate = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (all, name) { return String(values[name]); });
  };

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
    var rating = parseInt(data.get("rating"), 10);  // only where the study collects ratings
    if (!isNaN(rating)) { draft.rating = rating; }
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

  /* ---- tool use: counts only, sent with the answer (hidden field tool_use) ---- */
  var toolUse = {window_level: 0, zoom: 0, pan: 0, frame_step: 0, cine: 0, caliper: 0, reset: 0};
  var toolUseInput = form ? form.querySelector("input[data-tool-use]") : null;
  function countTool(name) {
    toolUse[name] = Math.min(100000, toolUse[name] + 1);
    if (toolUseInput) { toolUseInput.value = JSON.stringify(toolUse); }
  }
  if (form && toolUseInput) {
    form.addEventListener("submit", function () { toolUseInput.value = JSON.stringify(toolUse); });
  }

  /* ---- viewports: window/level, zoom, pan, caliper (pure view state) ----
     A viewport is one image or video in a clipping frame: its stage (the media and the
     caliper overlay) is scaled and moved with a CSS transform; window/level is an SVG
     component-transfer filter on the media (out = (x - level) / width + 1/2, in grey
     levels of 0..255), referenced by CSS; calipers are drawn in image pixels. */
  var SVG_NS = "http://www.w3.org/2000/svg";
  var FULL_WIDTH = 255, MID_LEVEL = 127.5, MAX_ZOOM = 8;
  var defs = document.createElementNS(SVG_NS, "svg");
  defs.setAttribute("class", "ws-defs");
  defs.setAttribute("aria-hidden", "true");
  document.body.appendChild(defs);
  var viewportCount = 0;

  function Viewport(media, frame) {
    this.media = media;
    this.frame = frame;
    this.id = "ws-wl-" + (viewportCount++);
    this.stage = document.createElement("div");
    this.stage.className = "ws-stage";
    media.parentNode.insertBefore(this.stage, media);
    this.stage.appendChild(media);
    this.overlay = document.createElementNS(SVG_NS, "svg");
    this.overlay.setAttribute("class", "ws-overlay");
    this.overlay.setAttribute("aria-hidden", "true");
    this.stage.appendChild(this.overlay);
    var filter = document.createElementNS(SVG_NS, "filter");
    filter.setAttribute("id", this.id);
    filter.setAttribute("color-interpolation-filters", "sRGB");
    var transfer = document.createElementNS(SVG_NS, "feComponentTransfer");
    this.funcs = ["feFuncR", "feFuncG", "feFuncB"].map(function (name) {
      var func = document.createElementNS(SVG_NS, name);
      func.setAttribute("type", "linear");
      transfer.appendChild(func);
      return func;
    });
    filter.appendChild(transfer);
    defs.appendChild(filter);
    this.spacing = null;
    this.reset();
  }
  Viewport.prototype.reset = function () {
    this.zoom = 1; this.panX = 0; this.panY = 0;
    this.width = FULL_WIDTH; this.level = MID_LEVEL;
    this.lines = [];
    this.apply();
  };
  Viewport.prototype.setSource = function (element) {
    /* Millimetres per pixel where the case's own DICOM media declared them. */
    var sx = parseFloat(element.dataset.spacingX), sy = parseFloat(element.dataset.spacingY);
    this.spacing = sx > 0 && sy > 0 ? {x: sx, y: sy} : null;
  };
  Viewport.prototype.size = function () {
    var m = this.media;
    return {w: m.videoWidth || m.naturalWidth || 0, h: m.videoHeight || m.naturalHeight || 0};
  };
  Viewport.prototype.windowed = function () { return this.width !== FULL_WIDTH || this.level !== MID_LEVEL; };
  Viewport.prototype.apply = function () {
    this.stage.style.transform = "translate(" + this.panX + "px," + this.panY + "px) scale(" + this.zoom + ")";
    var slope = FULL_WIDTH / this.width, intercept = 0.5 - this.level / this.width;
    this.funcs.forEach(function (func) {
      func.setAttribute("slope", slope.toFixed(4));
      func.setAttribute("intercept", intercept.toFixed(4));
    });
    this.media.style.filter = this.windowed() ? "url(#" + this.id + ")" : "";
    this.media.dataset.windowWidth = String(Math.round(this.width));
    this.media.dataset.windowLevel = String(Math.round(this.level));
    this.media.dataset.zoom = this.zoom.toFixed(2);
    this.draw();
    if (this === active()) { showReadout(this); }
  };
  Viewport.prototype.zoomBy = function (factor) {
    this.zoom = Math.min(MAX_ZOOM, Math.max(1, this.zoom * factor));
    if (this.zoom === 1) { this.panX = this.panY = 0; }
    this.apply();
  };
  Viewport.prototype.windowBy = function (dx, dy) {
    /* As in OHIF: across changes the width (contrast), up/down the level (brightness). */
    this.width = Math.max(1, Math.min(2 * FULL_WIDTH, this.width + dx));
    this.level = Math.max(0, Math.min(FULL_WIDTH, this.level + dy));
    this.apply();
  };
  Viewport.prototype.toImage = function (clientX, clientY) {
    /* Client point -> image pixel, through the transform and the contain fit. */
    var size = this.size(), rect = this.media.getBoundingClientRect();
    if (!size.w || !size.h || !rect.width || !rect.height) { return null; }
    var scale = Math.min(rect.width / size.w, rect.height / size.h);
    var ox = (rect.width - size.w * scale) / 2, oy = (rect.height - size.h * scale) / 2;
    return {x: (clientX - rect.left - ox) / scale, y: (clientY - rect.top - oy) / scale};
  };
  Viewport.prototype.distance = function (line) {
    var dx = line.x2 - line.x1, dy = line.y2 - line.y1;
    if (this.spacing) {
      var mm = Math.sqrt(Math.pow(dx * this.spacing.x, 2) + Math.pow(dy * this.spacing.y, 2));
      return interpolate(gettext("%(value)s mm"), {value: mm.toFixed(1)}, true);
    }
    return interpolate(gettext("%(value)s px"), {value: Math.round(Math.sqrt(dx * dx + dy * dy))}, true);
  };
  Viewport.prototype.draw = function () {
    var size = this.size(), overlay = this.overlay, self = this;
    while (overlay.firstChild) { overlay.removeChild(overlay.firstChild); }
    if (!size.w || !size.h) { return; }
    overlay.setAttribute("viewBox", "0 0 " + size.w + " " + size.h);
    var fontSize = Math.max(6, size.w / 28);
    this.lines.forEach(function (line) {
      var path = document.createElementNS(SVG_NS, "line");
      path.setAttribute("class", "ws-caliper");
      path.setAttribute("x1", line.x1); path.setAttribute("y1", line.y1);
      path.setAttribute("x2", line.x2); path.setAttribute("y2", line.y2);
      overlay.appendChild(path);
      [[line.x1, line.y1], [line.x2, line.y2]].forEach(function (end) {
        var dot = document.createElementNS(SVG_NS, "circle");
        dot.setAttribute("class", "ws-caliper-end");
        dot.setAttribute("cx", end[0]); dot.setAttribute("cy", end[1]);
        dot.setAttribute("r", String(fontSize / 5));
        overlay.appendChild(dot);
      });
      var label = document.createElementNS(SVG_NS, "text");
      label.setAttribute("class", "ws-caliper-label");
      label.setAttribute("x", String(line.x2 + fontSize / 3));
      label.setAttribute("y", String(line.y2 - fontSize / 3));
      label.setAttribute("font-size", String(fontSize));
      label.textContent = self.distance(line);
      overlay.appendChild(label);
    });
  };

  var lightbox = document.getElementById("ws-lightbox");
  var big = lightbox ? lightbox.querySelector("img") : null;
  var bigView = big ? new Viewport(big, lightbox) : null;
  var videos = Array.prototype.slice.call(root.querySelectorAll("[data-cine] video"));
  var videoViews = videos.map(function (v) {
    var view = new Viewport(v, v.closest("[data-cine]"));
    view.setSource(v);
    v.addEventListener("loadedmetadata", function () { view.draw(); });
    return view;
  });
  var current = 0;
  function lightboxOpen() { return !!(lightbox && !lightbox.hidden); }
  function active() { return lightboxOpen() ? bigView : ((videoViews && videoViews[current]) || null); }

  /* ---- the tools toolbar: one, moved into the enlarged view while it is open ---- */
  var tools = root.querySelector("[data-view-tools]");
  var toolsHome = tools ? tools.parentNode : null, toolsNext = tools ? tools.nextSibling : null;
  var wlReadout = root.querySelector("[data-wl-readout]"), caliperReadout = root.querySelector("[data-caliper-readout]");
  var mode = "window_level";
  function setMode(name) {
    mode = name;
    if (tools) {
      tools.querySelectorAll("[data-tool]").forEach(function (button) {
        button.setAttribute("aria-pressed", String(button.dataset.tool === name));
      });
    }
    document.body.dataset.wsTool = name;
  }
  function showReadout(view) {
    if (!wlReadout || !view) { return; }
    wlReadout.textContent = interpolate(gettext("W %(width)s L %(level)s · %(zoom)s×"), {
      width: Math.round(view.width), level: Math.round(view.level), zoom: view.zoom.toFixed(1)
    }, true);
  }
  function resetActive() { var view = active(); if (view) { view.reset(); countTool("reset"); } if (caliperReadout) { caliperReadout.textContent = ""; } }
  function zoomActive(factor) { var view = active(); if (view) { view.zoomBy(factor); countTool("zoom"); } }
  function toggleHelp() { var d = document.getElementById("ws-keys"); if (d) { d.open = !d.open; } }
  if (tools) {
    tools.querySelectorAll("[data-tool]").forEach(function (button) {
      button.addEventListener("click", function () { setMode(button.dataset.tool); });
    });
    var viewActions = {zoom_in: function () { zoomActive(1.25); }, zoom_out: function () { zoomActive(0.8); },
      reset: resetActive, help: toggleHelp};
    tools.querySelectorAll("[data-view-action]").forEach(function (button) {
      if (button.dataset.viewAction === "help" && !document.getElementById("ws-keys")) { button.hidden = true; }
      button.addEventListener("click", function () { viewActions[button.dataset.viewAction](); });
    });
  }
  setMode("window_level");

  /* ---- pointer: drag = the tool (Shift or the middle button: pan), wheel = zoom ---- */
  var drag = null, lastWheel = 0;
  function startDrag(view, event) {
    if (event.button !== 0 && event.button !== 1) { return; }
    if (event.target.closest && event.target.closest("[data-view-tools]")) { return; }
    var tool = event.shiftKey || event.button === 1 ? "pan" : mode;
    drag = {view: view, tool: tool, x: event.clientX, y: event.clientY, moved: false, line: null};
    if (tool === "caliper") {
      var at = view.toImage(event.clientX, event.clientY);
      if (at) { drag.line = {x1: at.x, y1: at.y, x2: at.x, y2: at.y}; view.lines.push(drag.line); }
    }
    event.preventDefault();
  }
  document.addEventListener("mousemove", function (event) {
    if (!drag) { return; }
    var dx = event.clientX - drag.x, dy = event.clientY - drag.y, view = drag.view;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 3) { return; }
    drag.moved = true;
    drag.x = event.clientX; drag.y = event.clientY;
    if (drag.tool === "pan") { view.panX += dx; view.panY += dy; view.apply(); }
    else if (drag.tool === "window_level") { view.windowBy(dx, dy); }
    else if (drag.line) {
      var at = view.toImage(event.clientX, event.clientY);
      if (at) { drag.line.x2 = at.x; drag.line.y2 = at.y; view.draw(); }
    }
  });
  document.addEventListener("mouseup", function () {
    var ended = drag;
    drag = null;
    if (!ended) { return; }
    var view = ended.view;
    if (ended.line && !ended.moved) { view.lines.pop(); view.draw(); }
    if (ended.moved) {
      countTool(ended.tool);
      if (ended.line && caliperReadout) { caliperReadout.textContent = gettext("Distance:") + " " + view.distance(ended.line); }
    } else if (view === bigView) {
      if (view.zoom === 1 && ended.tool !== "caliper") { closeView(); }
    } else if (ended.tool !== "caliper") {
      toggle();  /* a click on a sweep plays or pauses it */
    }
  });
  function onWheel(view, event) {
    event.preventDefault();
    view.zoomBy(event.deltaY < 0 ? 1.2 : 1 / 1.2);
    if (event.timeStamp - lastWheel > 400) { countTool("zoom"); }  /* one count per wheel gesture */
    lastWheel = event.timeStamp;
  }

  /* ---- view grid: enlarge ---- */
  function openView(img) {
    if (!img || !lightbox) { return; }
    big.src = img.src; big.alt = img.alt;
    bigView.setSource(img);
    bigView.reset();
    lightbox.hidden = false;
    if (tools) { lightbox.appendChild(tools); }
    showReadout(bigView);
    if (caliperReadout) { caliperReadout.textContent = ""; }
  }
  function closeView() {
    if (!lightbox) { return; }
    lightbox.hidden = true;
    if (tools && toolsHome) { toolsHome.insertBefore(tools, toolsNext); }
    showReadout(active());
  }
  root.querySelectorAll(".ws-view img").forEach(function (img) {
    img.addEventListener("click", function () { openView(img); });
  });
  if (lightbox) {
    big.addEventListener("load", function () { bigView.draw(); });
    lightbox.addEventListener("wheel", function (event) { onWheel(bigView, event); }, {passive: false});
    lightbox.addEventListener("mousedown", function (event) { startDrag(bigView, event); });
  }
  function viewByKey(key) { return root.querySelector('.ws-view[data-view-key="' + key + '"] img'); }

  /* ---- cine player: at the sweep's own frame rate (its rendition's, data-fps) ---- */
  var speeds = [0.25, 0.5, 1, 1.5, 2], speedIndex = 2, looping = true;
  var speedLabel = root.querySelector("[data-cine-speed]"), frameLabel = root.querySelector("[data-cine-frame]");
  var toggleButton = root.querySelector('[data-cine-action="toggle"]');
  function video() { return videos[current]; }
  function fpsOf(v) { return parseFloat(v.dataset.fps) || fps; }
  function markCurrent() {
    videos.forEach(function (v, i) { v.closest("[data-cine]").classList.toggle("cine-current", i === current); });
    showPlaying();
    showReadout(active());
  }
  function showPlaying() {
    var v = video();
    if (toggleButton) { toggleButton.setAttribute("aria-pressed", String(!!v && !v.paused)); }
  }
  function toggle() {
    var v = video(); if (!v) { return; }
    if (v.paused) { v.play().catch(function () {}); countTool("cine"); } else { v.pause(); }
  }
  function step(frames) {
    var v = video(); if (!v) { return; }
    v.pause();
    v.currentTime = Math.max(0, Math.min(v.duration || 0, v.currentTime + frames / fpsOf(v)));
    showFrame(v);  // at once: the seek's own event comes later
    countTool("frame_step");
  }
  function showFrame(v) {
    if (frameLabel) { frameLabel.textContent = String(Math.round(v.currentTime * fpsOf(v)) + 1); }
  }
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
    var frame = videoViews[i].frame;
    frame.addEventListener("mousedown", function (event) {
      if (current !== i) { current = i; markCurrent(); }
      startDrag(videoViews[i], event);
    });
    frame.addEventListener("wheel", function (event) {
      if (current !== i) { current = i; markCurrent(); }
      onWheel(videoViews[i], event);
    }, {passive: false});
    ["play", "pause"].forEach(function (name) { v.addEventListener(name, function () { if (i === current) { showPlaying(); } }); });
    ["timeupdate", "seeked"].forEach(function (name) {
      v.addEventListener(name, function () { if (i === current) { showFrame(v); } });
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
    var nowName = now ? now.closest("[data-cine]").dataset.orientation : null;
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
      var frame = Math.round(sweep.currentTime * fpsOf(sweep)) + 1, last = parseInt(input.max, 10);
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
    var key = event.key, handled = true, view = active();
    if (tag === "INPUT" && key.indexOf("Arrow") === 0) { return; }  /* arrows move between radio buttons */
    if (key === "+" || key === "=") { zoomActive(1.25); }
    else if (key === "-") { zoomActive(0.8); }
    else if (key === "0" || key === "r" || key === "R") { resetActive(); }
    else if (key === "w" || key === "W") { setMode("window_level"); }
    else if (key === "p" || key === "P") { setMode("pan"); }
    else if (key === "m" || key === "M") { setMode("caliper"); }
    else if (key === "?") { toggleHelp(); }
    else if (lightboxOpen()) {
      if (key === "Escape") { closeView(); }
      else if (key === "ArrowLeft") { view.panX += 40; view.apply(); countTool("pan"); }
      else if (key === "ArrowRight") { view.panX -= 40; view.apply(); countTool("pan"); }
      else if (key === "ArrowUp") { view.panY += 40; view.apply(); countTool("pan"); }
      else if (key === "ArrowDown") { view.panY -= 40; view.apply(); countTool("pan"); }
      else if (/^[1-6]$/.test(key)) { openView(viewByKey(key)); }
      else { handled = false; }
    } else if (/^[1-6]$/.test(key)) { openView(viewByKey(key)); }
    else if (key === " ") { toggle(); }
    else if (key === "," || key === "ArrowLeft") { step(-1); }
    else if (key === "." || key === "ArrowRight") { step(1); }
    else if (key === "[") { setSpeed(-1); }
    else if (key === "]") { setSpeed(1); }
    else if (key === "l" || key === "L") { toggleLoop(); }
    else if (key === "v" || key === "V") { if (videos.length) { current = (current + 1) % videos.length; markCurrent(); } }
    else if (key === "y" || key === "Y") { setSevere("yes"); }
    else if (key === "n" || key === "N") { setSevere("no"); }
    else if (key === "c" || key === "C") { var c = form && form.querySelector("input[name=confidence]"); if (c) { c.focus(); c.select(); } }
    else if (key === "Enter" && form) { form.requestSubmit(); }
    else { handled = false; }
    if (handled) { event.preventDefault(); }
  });
}());
