// The snapshot page: camera or upload -> /api/analyze -> faces, mood, movies, feedback.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const app = $("app");
  const video = $("camera");
  const canvas = $("snapshot");
  const count = Number(app.dataset.count) || 10;
  const state = { stream: null, mood: null, shown: [], keptId: null, busy: false,
                  frame: null, faces: [], why: new Set() };

  function strategy() {
    return document.querySelector("input[name=strategy]:checked").value;
  }

  function showStatus(kind, text) {
    const box = $("status");
    box.className = `alert alert-${kind}`;
    box.textContent = text;
  }
  function clearStatus() {
    $("status").className = "alert d-none";
  }

  function showCamera(on) {
    video.classList.toggle("d-none", !on);
    canvas.classList.toggle("d-none", on);
    $("camera-placeholder").classList.add("d-none");
    $("take-snapshot").disabled = !on;
    $("start-camera").textContent = on ? "Stop camera" : "Start camera";
  }

  async function toggleCamera() {
    if (state.stream) {
      stopCamera();
      return;
    }
    try {
      state.stream = await moodreel.openCamera(video);
      showCamera(true);
      clearStatus();
    } catch (error) {
      showStatus("warning", error.message);
    }
  }

  function stopCamera() {
    moodreel.closeCamera(video, state.stream);
    state.stream = null;
    showCamera(false);
    if (!canvas.width) $("camera-placeholder").classList.remove("d-none");
  }

  function takeSnapshot() {
    if (!state.stream || !video.videoWidth) return;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext("2d");
    context.drawImage(video, 0, 0);
    const frame = context.getImageData(0, 0, canvas.width, canvas.height);
    stopCamera(); // the camera is off while it is not needed
    canvas.toBlob((blob) => analyze(blob, frame), "image/jpeg", 0.92);
  }

  async function uploadPhoto(event) {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file) return;
    stopCamera();
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      const context = canvas.getContext("2d");
      context.drawImage(bitmap, 0, 0);
      showCamera(false);
      analyze(file, context.getImageData(0, 0, canvas.width, canvas.height));
    } catch (error) {
      showStatus("danger", "This file cannot be read as a photo. Try a JPEG or PNG.");
    }
  }

  async function analyze(blob, frame) {
    if (state.busy) return;
    state.busy = true;
    showStatus("info", "Reading your face…");
    const form = new FormData();
    form.append("image", blob, "snapshot.jpg");
    form.append("strategy", strategy());
    form.append("count", String(count));
    form.append("session_id", moodreel.sessionId());
    form.append("keep", $("keep-snapshot").checked ? "true" : "false");
    form.append("explain", "true");
    try {
      const data = await moodreel.request("POST", "/api/analyze", form);
      clearStatus();
      drawResult(frame, data.faces);
      showMood(data.group, data.faces, "Your mood");
      if (data.advice) showStatus("warning", data.advice);
      if (data.snapshot_id) keptSnapshot(data.snapshot_id);
      if (data.snapshot_error) showStatus("warning", data.snapshot_error.detail);
      state.shown = [];
      if (data.recommendations_error) {
        showMovies(null, data.recommendations_error.detail);
      } else {
        showMovies(data.recommendations || []);
      }
    } catch (error) {
      if (error.error === "no face found" || error.status === 422) {
        drawResult(frame, []);
        $("result").classList.add("d-none");
        $("movies-card").classList.add("d-none");
        showStatus("warning", error.message);
      } else {
        showStatus("danger", error.message);
      }
    } finally {
      state.busy = false;
    }
  }

  function drawResult(frame, faces) {
    state.frame = frame;
    state.faces = faces;
    state.why = new Set();
    redraw();
  }

  // The snapshot, the heat maps of the faces whose "Why?" is on, then the boxes on top.
  function redraw() {
    const context = canvas.getContext("2d");
    const faces = state.faces;
    context.putImageData(state.frame, 0, 0);
    state.why.forEach((i) => drawHeatMap(context, faces[i].explanation));
    const label = (face, i) => `${faces.length > 1 ? `${i + 1}: ` : ""}`
      + `${face.uncertain ? "not sure" : face.top} ${moodreel.percent(face.confidence)}`;
    moodreel.drawBoxes(context, faces, label, 1, Math.max(1, canvas.width / 640));
  }

  // A heat map (rows of values 0..1) over the square of the photo it explains: transparent
  // where the model found no evidence, turning from yellow to opaque red where it found most.
  function drawHeatMap(context, explanation) {
    const rows = explanation.heatmap;
    const size = rows.length;
    const tile = document.createElement("canvas");
    tile.width = size;
    tile.height = size;
    const tileContext = tile.getContext("2d");
    const pixels = tileContext.createImageData(size, size);
    rows.forEach((row, y) => row.forEach((value, x) => {
      const i = 4 * (y * size + x);
      pixels.data[i] = 255;
      pixels.data[i + 1] = Math.round(220 * (1 - value));
      pixels.data[i + 2] = 0;
      pixels.data[i + 3] = Math.round(200 * value);
    }));
    tileContext.putImageData(pixels, 0, 0);
    const [x, y, width, height] = explanation.box;
    context.imageSmoothingEnabled = true;
    context.drawImage(tile, x, y, width, height);
  }

  function toggleWhy(index, button) {
    const on = !state.why.has(index);
    if (on) state.why.add(index); else state.why.delete(index);
    button.classList.toggle("active", on);
    button.setAttribute("aria-pressed", String(on));
    redraw();
  }

  function showMood(group, faces, source) {
    state.mood = group.emotions;
    $("mood-source").textContent = source;
    $("mood-label").textContent = group.top;
    $("mood-confidence").textContent = moodreel.percent(group.confidence);
    $("mood-unsure").classList.toggle("d-none", !group.uncertain);
    const container = $("faces");
    container.replaceChildren();
    if (faces.length > 1) {
      const title = document.createElement("h2");
      title.className = "h6";
      title.textContent = `Group mood of ${faces.length} faces`;
      container.append(title, moodreel.emotionBars(group.emotions));
    }
    faces.forEach((face, i) => {
      const block = document.createElement("div");
      block.className = "face-result mt-3";
      block.dataset.face = String(i + 1);
      const title = document.createElement("h3");
      title.className = "h6";
      title.textContent = faces.length > 1 ? `Face ${i + 1}: ${face.top}` : `Face: ${face.top}`;
      if (face.uncertain) {
        const badge = document.createElement("span");
        badge.className = "badge text-bg-warning ms-2";
        badge.textContent = "not sure";
        title.append(badge);
      }
      block.append(title, moodreel.emotionBars(face.emotions));
      if (face.explanation) {
        const why = document.createElement("button");
        why.type = "button";
        why.className = "btn btn-sm btn-outline-secondary mt-1 why-toggle";
        why.textContent = "Why?";
        why.title = `Show where the model saw ${face.top}`;
        why.setAttribute("aria-pressed", "false");
        why.addEventListener("click", () => toggleWhy(i, why));
        block.append(why);
      }
      container.append(block);
    });
    $("why-help").classList.toggle("d-none", !faces.some((face) => face.explanation));
    if (!faces.length) {
      container.append(moodreel.emotionBars(group.emotions));
    }
    $("result").classList.remove("d-none");
  }

  function showMovies(films, error) {
    const list = $("movies");
    list.replaceChildren();
    $("movies-card").classList.remove("d-none");
    if (films === null) {
      const item = document.createElement("li");
      item.className = "list-group-item text-danger";
      item.textContent = error;
      list.append(item);
      return;
    }
    if (!films.length) {
      const item = document.createElement("li");
      item.className = "list-group-item text-body-secondary";
      item.textContent = "No more movies for this mood. Try the other strategy.";
      list.append(item);
    }
    const template = $("movie-template");
    for (const film of films) {
      state.shown.push(film.movie_id);
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.movieId = String(film.movie_id);
      item.querySelector(".movie-title").textContent = film.title;
      item.querySelector(".movie-year").textContent = film.year ? `(${film.year})` : "";
      const genres = item.querySelector(".movie-genres");
      for (const genre of film.genres) {
        const badge = document.createElement("span");
        badge.className = "badge rounded-pill text-bg-light border me-1";
        badge.textContent = genre;
        genres.append(badge);
      }
      item.querySelector(".movie-reason").textContent = film.reason;
      item.querySelector(".feedback-up").addEventListener("click", () => sendFeedback(item, film, true));
      item.querySelector(".feedback-down").addEventListener("click", () => sendFeedback(item, film, false));
      list.append(item);
    }
  }

  async function sendFeedback(item, film, liked) {
    const buttons = item.querySelectorAll(".feedback button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const saved = await moodreel.request("POST", "/api/feedback", {
        movie_id: film.movie_id, liked, emotions: state.mood, strategy: strategy(),
        session_id: moodreel.sessionId(),
      });
      item.querySelector(liked ? ".feedback-up" : ".feedback-down").classList.add("active");
      item.classList.add(liked ? "liked" : "disliked");
      const why = item.querySelector(".feedback-why");
      why.classList.remove("d-none");
      why.addEventListener("submit", (event) => {
        event.preventDefault();
        sendReason(item, saved.id, why.querySelector("input").value);
      }, { once: true });
    } catch (error) {
      buttons.forEach((b) => { b.disabled = false; });
      showStatus("danger", error.message);
    }
  }

  async function sendReason(item, feedbackId, text) {
    const why = item.querySelector(".feedback-why");
    try {
      if (text.trim()) {
        await moodreel.request("PATCH", `/api/feedback/${feedbackId}`, {
          comment: text, session_id: moodreel.sessionId(),
        });
      }
      why.classList.add("d-none");
      item.querySelector(".feedback-thanks").classList.remove("d-none");
    } catch (error) {
      showStatus("danger", error.message);
    }
  }

  async function anotherList(fresh) {
    if (!state.mood) return;
    const query = new URLSearchParams({
      probs: JSON.stringify(state.mood), strategy: strategy(), count: String(count),
    });
    if (!fresh && state.shown.length) query.set("exclude", state.shown.slice(-500).join(","));
    if (fresh) state.shown = [];
    const button = $("another-list");
    button.disabled = true;
    try {
      const data = await moodreel.request("GET", `/api/recommendations?${query}`);
      showMovies(data.recommendations);
    } catch (error) {
      showMovies(null, error.message);
    } finally {
      button.disabled = false;
    }
  }

  function pickMood(event) {
    const button = event.target.closest("button[data-emotion]");
    if (!button) return;
    const emotion = button.dataset.emotion;
    document.querySelectorAll("#mood-picker button").forEach((b) => b.classList.toggle("active", b === button));
    clearStatus();
    const emotions = {};
    emotions[emotion] = 1;
    showMood({ emotions, top: emotion, confidence: 1, uncertain: false }, [], "Mood you picked");
    $("mood-confidence").textContent = "";
    anotherList(true);
    if (state.keptId) {  // the kept snapshot gets the mood you say you are in as its label
      moodreel.request("PATCH", `/api/snapshots/${encodeURIComponent(state.keptId)}`, { emotion })
        .catch(() => {});
    }
  }

  function keptSnapshot(id) {
    moodreel.rememberSnapshot(id);
    state.keptId = id;
    $("kept-notice").classList.remove("d-none");
  }

  async function deleteKept() {
    if (!state.keptId) return;
    try {
      await moodreel.request("DELETE", `/api/snapshots/${encodeURIComponent(state.keptId)}`);
    } catch (error) {
      if (error.status !== 404) {
        showStatus("danger", error.message);
        return;
      }
    }
    moodreel.forgetSnapshot(state.keptId);
    state.keptId = null;
    $("kept-notice").classList.add("d-none");
    showStatus("success", "Your snapshot was deleted.");
  }

  $("start-camera").addEventListener("click", toggleCamera);
  $("take-snapshot").addEventListener("click", takeSnapshot);
  $("upload").addEventListener("change", uploadPhoto);
  $("another-list").addEventListener("click", () => anotherList(false));
  $("mood-picker").addEventListener("click", pickMood);
  $("delete-kept").addEventListener("click", deleteKept);
  document.querySelectorAll("input[name=strategy]").forEach((input) =>
    input.addEventListener("change", () => anotherList(true)));
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && state.stream) stopCamera();
  });
})();
