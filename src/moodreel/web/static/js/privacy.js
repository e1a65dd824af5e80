// The privacy page: list the snapshots this browser kept, and delete them.
"use strict";

(() => {
  const list = document.getElementById("kept-list");

  function render() {
    list.replaceChildren();
    const kept = moodreel.keptSnapshots();
    if (!kept.length) {
      const item = document.createElement("li");
      item.className = "list-group-item text-body-secondary";
      item.textContent = "None.";
      list.append(item);
      return;
    }
    for (const snapshot of kept) {
      const item = document.createElement("li");
      item.className = "list-group-item d-flex align-items-center kept-snapshot";
      const label = document.createElement("span");
      label.className = "me-auto";
      label.textContent = `Kept ${new Date(snapshot.at).toLocaleString()}`;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-danger";
      button.textContent = "Delete";
      button.addEventListener("click", () => remove(snapshot.id, button));
      item.append(label, button);
      list.append(item);
    }
  }

  async function remove(id, button) {
    button.disabled = true;
    try {
      await moodreel.request("DELETE", `/api/snapshots/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error.status !== 404) {  // 404: already gone from the server
        button.disabled = false;
        button.textContent = "Retry delete";
        return;
      }
    }
    moodreel.forgetSnapshot(id);
    render();
  }

  render();
})();
