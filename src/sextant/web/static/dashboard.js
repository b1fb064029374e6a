// Dragging dashboard tiles while editing: the grip in a tile's header moves it, the handle in its corner
// resizes it, both snapping to the grid's cells. A drop posts the new cell or size to the routes of the move
// and resize buttons (which stay, for keyboards), then lays out every tile where the server put them.
(() => {
  const grid = document.querySelector(".dashboard-grid[data-drag-dashboard]");
  if (!grid) return;
  const columns = Number(grid.dataset.columns);
  const csrfHeaders = JSON.parse(document.body.getAttribute("hx-headers") || "{}");

  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);
  const boxOf = (tile) => ({ x: +tile.dataset.x, y: +tile.dataset.y, w: +tile.dataset.w, h: +tile.dataset.h });
  const sameBox = (one, other) => ["x", "y", "w", "h"].every((key) => one[key] === other[key]);

  function show(tile, box) {
    tile.style.gridColumn = `${box.x + 1} / span ${box.w}`;
    tile.style.gridRow = `${box.y + 1} / span ${box.h}`;
  }

  // The distance between the starts of two neighbouring columns and of two rows, in pixels.
  function cellSteps() {
    const style = getComputedStyle(grid);
    const columnGap = parseFloat(style.columnGap) || 0;
    const rowGap = parseFloat(style.rowGap) || 0;
    const columnWidth = (grid.clientWidth - columnGap * (columns - 1)) / columns;
    return { x: columnWidth + columnGap, y: parseFloat(style.gridAutoRows) + rowGap };
  }

  function report(message) {
    let notice = document.getElementById("tile-drag-error");
    if (!notice) {
      notice = document.createElement("p");
      notice.id = "tile-drag-error";
      notice.className = "error";
      notice.setAttribute("role", "alert");
      grid.before(notice);
    }
    notice.textContent = message;
  }

  // Every tile takes the place the server's page gives it; tiles whose size changed load their chart again.
  function arrange(page) {
    for (const placed of page.querySelectorAll(".dashboard-grid .tile")) {
      const tile = document.getElementById(placed.id);
      if (!tile) continue;
      const resized = tile.dataset.w !== placed.dataset.w || tile.dataset.h !== placed.dataset.h;
      Object.assign(tile.dataset, { x: placed.dataset.x, y: placed.dataset.y, w: placed.dataset.w, h: placed.dataset.h });
      show(tile, boxOf(tile));
      grid.appendChild(tile); // the page's order, so that the keyboard goes through tiles as they are shown
      const body = tile.querySelector(".tile-body[hx-get]");
      if (resized && body) window.htmx.ajax("GET", body.getAttribute("hx-get"), { target: body, swap: "innerHTML" });
    }
  }

  async function save(tile, mode, wanted, start) {
    const fields = mode === "move" ? { x: wanted.x, y: wanted.y } : { w: wanted.w, h: wanted.h };
    const url = `/dashboards/${grid.dataset.dragDashboard}/tiles/${tile.dataset.tile}/${mode}`;
    grid.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, { method: "POST", headers: csrfHeaders, body: new URLSearchParams(fields) });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      if (!response.ok) {
        const problem = page.querySelector("[role=alert]");
        throw new Error(problem ? problem.textContent : `the server answered ${response.status}`);
      }
      if (!page.getElementById(tile.id)) throw new Error("the dashboard did not come back; sign in again");
      const notice = document.getElementById("tile-drag-error");
      if (notice) notice.remove();
      arrange(page);
    } catch (error) {
      show(tile, start);
      report(`The tile could not be ${mode === "move" ? "moved" : "resized"}: ${error.message}`);
    } finally {
      grid.removeAttribute("aria-busy");
    }
  }

  grid.addEventListener("pointerdown", (down) => {
    const handle = down.target.closest("[data-drag]");
    if (!handle || down.button !== 0) return;
    down.preventDefault();
    const tile = handle.closest(".tile");
    const mode = handle.dataset.drag; // "move" or "resize"
    const start = boxOf(tile);
    const steps = cellSteps();
    let wanted = start;
    handle.setPointerCapture(down.pointerId);
    tile.classList.add("dragging");

    const follow = (move) => {
      const across = Math.round((move.clientX - down.clientX) / steps.x);
      const along = Math.round((move.clientY - down.clientY) / steps.y);
      wanted = mode === "move"
        ? { ...start, x: clamp(start.x + across, 0, columns - start.w), y: Math.max(0, start.y + along) }
        : { ...start, w: clamp(start.w + across, 1, columns - start.x), h: Math.max(1, start.h + along) };
      show(tile, wanted);
    };
    const finish = (end) => {
      handle.removeEventListener("pointermove", follow);
      handle.removeEventListener("pointerup", finish);
      handle.removeEventListener("pointercancel", finish);
      tile.classList.remove("dragging");
      if (end.type === "pointercancel" || sameBox(wanted, start)) {
        show(tile, start);
        return;
      }
      save(tile, mode, wanted, start);
    };
    handle.addEventListener("pointermove", follow);
    handle.addEventListener("pointerup", finish);
    handle.addEventListener("pointercancel", finish);
  });
})();
