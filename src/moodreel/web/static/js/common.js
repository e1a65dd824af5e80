// Shared by the pages: calling the JSON API, the browser session id, the camera.
"use strict";

const moodreel = (() => {
  class ApiError extends Error {
    constructor(status, body) {
      super(body && body.detail ? body.detail : `request failed (${status})`);
      this.status = status;
      this.error = body && body.error ? body.error : "error";
    }
  }

  async function request(method, url, body) {
    const options = { method, headers: { Accept: "application/json" } };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      throw new ApiError(0, { error: "offline", detail: "The server cannot be reached. Check your connection and try again." });
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // A random id for this browser tab: ties feedback and kept snapshots together, nothing else.
  function sessionId() {
    let id = sessionStorage.getItem("moodreel.session");
    if (!id) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      sessionStorage.setItem("moodreel.session", id);
    }
    return id;
  }

  async function openCamera(video) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("This browser cannot use a camera here (it needs https or localhost). Upload a photo instead.");
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
        audio: false,
      });
    } catch (error) {
      const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
      throw new Error(denied
        ? "Camera access was refused. Allow the camera for this site, or upload a photo."
        : "No camera could be opened. Upload a photo or pick a mood instead.");
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    return stream;
  }

  function closeCamera(video, stream) {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    if (video) video.srcObject = null;
  }

  // Kept snapshots (ids are the keys to delete them) live in this browser only.
  const KEPT = "moodreel.kept";
  function keptSnapshots() {
    try {
      return JSON.parse(localStorage.getItem(KEPT) || "[]");
    } catch (error) {
      return [];
    }
  }
  function rememberSnapshot(id) {
    localStorage.setItem(KEPT, JSON.stringify([...keptSnapshots(), { id, at: new Date().toISOString() }]));
  }
  function forgetSnapshot(id) {
    localStorage.setItem(KEPT, JSON.stringify(keptSnapshots().filter((s) => s.id !== id)));
  }

  function percent(p) {
    return `${Math.round(p * 100)}%`;
  }

  // One row per emotion: name, a bar, a percentage.
  function emotionBars(emotions) {
    const list = document.createElement("div");
    list.className = "emotion-bars";
    const sorted = Object.entries(emotions).sort((a, b) => b[1] - a[1]);
    for (const [name, p] of sorted) {
      const row = document.createElement("div");
      row.className = "emotion-row";
      row.dataset.emotion = name;
      const label = document.createElement("span");
      label.className = "emotion-name text-capitalize";
      label.textContent = name;
      const track = document.createElement("div");
      track.className = "progress flex-grow-1";
      track.setAttribute("role", "progressbar");
      track.setAttribute("aria-label", name);
      track.setAttribute("aria-valuenow", String(Math.round(p * 100)));
      track.setAttribute("aria-valuemin", "0");
      track.setAttribute("aria-valuemax", "100");
      const bar = document.createElement("div");
      bar.className = `progress-bar emotion-${name}`;
      bar.style.width = percent(p);
      track.append(bar);
      const value = document.createElement("span");
      value.className = "emotion-value";
      value.textContent = percent(p);
      row.append(label, track, value);
      list.append(row);
    }
    return list;
  }

  // Boxes with a label, drawn on a canvas over an image or a video. Box coordinates are in
  // image pixels times boxScale; lines and text are sized by textScale.
  function drawBoxes(context, faces, labelFor, boxScale = 1, textScale = 1) {
    const scale = textScale;
    context.lineWidth = Math.max(2, 3 * scale);
    context.font = `${Math.round(16 * scale)}px system-ui, sans-serif`;
    faces.forEach((face, index) => {
      const [x, y, w, h] = face.box.map((v) => v * boxScale);
      context.strokeStyle = face.uncertain ? "#ffc107" : "#20c997";
      context.strokeRect(x, y, w, h);
      const text = labelFor(face, index);
      const width = context.measureText(text).width + 8 * scale;
      const height = 22 * scale;
      context.fillStyle = "rgba(0, 0, 0, 0.65)";
      context.fillRect(x, Math.max(0, y - height), width, height);
      context.fillStyle = "#fff";
      context.fillText(text, x + 4 * scale, Math.max(0, y - height) + 16 * scale);
    });
  }

  return { ApiError, request, sessionId, openCamera, closeCamera, keptSnapshots,
           rememberSnapshot, forgetSnapshot, percent, emotionBars, drawBoxes };
})();
