// Live mode: a few frames per second to /api/analyze, faces tracked from frame to frame,
// their probabilities smoothed (exponential moving average) so labels do not flicker.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const video = $("live-video");
  const overlay = $("live-overlay");
  const INTERVAL_MS = 250;    // at most 4 frames per second to the server
  const SEND_WIDTH = 640;     // frames are scaled down to this width before sending
  const SMOOTHING = 0.5;      // weight of the newest frame in the moving average
  const MATCH_IOU = 0.3;      // a box overlapping a track this much continues it
  const MAX_MISSES = 3;       // frames a track survives without its face
  const state = { stream: null, timer: null, inFlight: false, tracks: [], nextId: 1, times: [] };
  const grab = document.createElement("canvas");

  function showStatus(kind, text) {
    const box = $("live-status");
    box.className = kind ? `alert alert-${kind}` : "alert d-none";
    box.textContent = text || "";
  }

  async function start() {
    try {
      state.stream = await moodreel.openCamera(video);
    } catch (error) {
      showStatus("warning", error.message);
      return;
    }
    showStatus(null);
    $("live-placeholder").classList.add("d-none");
    $("live-start").disabled = true;
    $("live-stop").disabled = false;
    state.timer = setInterval(tick, INTERVAL_MS);
  }

  function stop() {
    clearInterval(state.timer);
    state.timer = null;
    moodreel.closeCamera(video, state.stream);
    state.stream = null;
    state.tracks = [];
    state.times = [];
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    $("live-placeholder").classList.remove("d-none");
    $("live-start").disabled = false;
    $("live-stop").disabled = true;
    $("live-fps").textContent = "";
    renderFaces();
  }

  function tick() {
    if (state.inFlight || !video.videoWidth) return;
    const scale = Math.min(1, SEND_WIDTH / video.videoWidth);
    grab.width = Math.round(video.videoWidth * scale);
    grab.height = Math.round(video.videoHeight * scale);
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    state.inFlight = true;
    const started = performance.now();
    grab.toBlob(async (blob) => {
      const form = new FormData();
      form.append("image", blob, "frame.jpg");
      form.append("recommend", "false");
      form.append("require_face", "false");
      try {
        const data = await moodreel.request("POST", "/api/analyze", form);
        if (!state.stream) return; // stopped while waiting
        track(data.faces, 1 / scale);
        draw();
        renderFaces();
        measure(performance.now() - started);
        showStatus(null);
      } catch (error) {
        if (state.stream) showStatus("danger", error.message);
      } finally {
        state.inFlight = false;
      }
    }, "image/jpeg", 0.8);
  }

  function iou(a, b) {
    const x1 = Math.max(a[0], b[0]);
    const y1 = Math.max(a[1], b[1]);
    const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
    const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
    const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
    const union = a[2] * a[3] + b[2] * b[3] - inter;
    return union > 0 ? inter / union : 0;
  }

  // Greedy matching by overlap; unmatched faces start tracks, unseen tracks fade out.
  function track(faces, scale) {
    const boxes = faces.map((f) => f.box.map((v) => v * scale));
    const pairs = [];
    state.tracks.forEach((t, ti) => boxes.forEach((b, fi) => {
      const overlap = iou(t.box, b);
      if (overlap >= MATCH_IOU) pairs.push([overlap, ti, fi]);
    }));
    pairs.sort((a, b) => b[0] - a[0]);
    const usedTracks = new Set();
    const usedFaces = new Set();
    for (const [, ti, fi] of pairs) {
      if (usedTracks.has(ti) || usedFaces.has(fi)) continue;
      usedTracks.add(ti);
      usedFaces.add(fi);
      const t = state.tracks[ti];
      t.box = boxes[fi];
      t.misses = 0;
      for (const name of Object.keys(t.emotions)) {
        t.emotions[name] = (1 - SMOOTHING) * t.emotions[name] + SMOOTHING * faces[fi].emotions[name];
      }
    }
    state.tracks.forEach((t, ti) => { if (!usedTracks.has(ti)) t.misses += 1; });
    state.tracks = state.tracks.filter((t) => t.misses <= MAX_MISSES);
    faces.forEach((f, fi) => {
      if (!usedFaces.has(fi)) {
        state.tracks.push({ id: state.nextId++, box: boxes[fi], emotions: { ...f.emotions }, misses: 0 });
      }
    });
  }

  function top(emotions) {
    return Object.entries(emotions).reduce((best, e) => (e[1] > best[1] ? e : best));
  }

  function draw() {
    overlay.width = video.videoWidth;
    overlay.height = video.videoHeight;
    const context = overlay.getContext("2d");
    context.clearRect(0, 0, overlay.width, overlay.height);
    const visible = state.tracks.filter((t) => t.misses === 0);
    const faces = visible.map((t) => {
      const [name, p] = top(t.emotions);
      return { box: t.box, top: name, confidence: p, uncertain: p < 0.4, id: t.id };
    });
    moodreel.drawBoxes(context, faces, (f) => `#${f.id} ${f.uncertain ? "not sure" : f.top} ${moodreel.percent(f.confidence)}`,
      1, Math.max(1, overlay.width / 640));
  }

  function renderFaces() {
    const container = $("live-faces");
    container.replaceChildren();
    const visible = state.tracks.filter((t) => t.misses === 0);
    if (!visible.length) {
      const empty = document.createElement("p");
      empty.className = "text-body-secondary m-0";
      empty.textContent = state.stream ? "No face in view. Face the camera, with light from the front." : "No face yet.";
      container.append(empty);
      return;
    }
    for (const t of visible) {
      const title = document.createElement("h3");
      title.className = "h6 mt-2 live-face";
      title.dataset.track = String(t.id);
      title.textContent = `Face #${t.id}: ${top(t.emotions)[0]}`;
      container.append(title, moodreel.emotionBars(t.emotions));
    }
  }

  function measure(ms) {
    const now = performance.now();
    state.times.push(now);
    state.times = state.times.filter((t) => now - t < 3000);
    const fps = state.times.length / 3;
    $("live-fps").textContent = `${fps.toFixed(1)} frames/s · ${Math.round(ms)} ms`;
  }

  $("live-start").addEventListener("click", start);
  $("live-stop").addEventListener("click", stop);
  document.addEventListener("visibilitychange", () => { if (document.hidden && state.stream) stop(); });
  window.addEventListener("pagehide", () => { if (state.stream) stop(); });
})();
