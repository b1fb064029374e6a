// The insight builder: rows of series, steps and filters added and removed, the custom dates shown when
// chosen, a new chart type applied at once, and the chart drawn with the vendored vega-embed. A group
// filter row shows its group type field, and suggests the properties of that group type from the catalog.
(() => {
  function drawChart() {
    const holder = document.getElementById("chart");
    const source = document.getElementById("chart-spec");
    if (!holder || !source) return;
    window.vegaEmbed(holder, JSON.parse(source.textContent), { renderer: "svg", actions: false })
      .then(() => { holder.dataset.drawn = "true"; })
      .catch((error) => {
        holder.textContent = `The chart could not be drawn: ${error.message}`;
        console.error(error);
      });
  }

  function fitFilterRow(row) {
    const type = row.querySelector("[name=filter_type]").value;
    const groupType = row.querySelector("[name=filter_group_type]");
    groupType.hidden = type !== "group";
    const suggestions = type === "group" ? `group-properties-${groupType.value.trim()}` : "property-names";
    row.querySelector("[name=filter_key]").setAttribute("list", suggestions);
  }

  function option(value) {
    const item = document.createElement("option");
    item.value = value;
    return item;
  }

  async function loadGroupProperties() {
    const types = document.getElementById("group-types");
    if (!types) return;
    const response = await fetch(types.dataset.catalog, { headers: { Accept: "application/json" } });
    if (!response.ok) return; // only suggestions are missing; group filters can still be typed
    const { groups } = await response.json();
    for (const [groupType, properties] of Object.entries(groups)) {
      types.append(option(groupType));
      const list = document.createElement("datalist");
      list.id = `group-properties-${groupType}`;
      list.append(...properties.map(option));
      types.after(list);
    }
    types.dataset.loaded = "true";
  }

  document.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      const list = add.closest("fieldset");
      const row = list.querySelector("template").content.firstElementChild.cloneNode(true);
      list.querySelector(".builder-rows").appendChild(row);
      const first = row.querySelector("input, select");
      if (first) first.focus();
      return;
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) remove.closest("li").remove();
  });

  document.addEventListener("input", (event) => {
    if (event.target.name === "filter_group_type") fitFilterRow(event.target.closest("li"));
  });

  document.addEventListener("change", (event) => {
    const field = event.target;
    if (field.name === "filter_type" || field.name === "filter_group_type") fitFilterRow(field.closest("li"));
    if (field.name === "date_range") {
      const custom = field.form.querySelector(".builder-custom-dates");
      if (custom) custom.hidden = field.value !== "custom";
    }
    if (field.matches("[data-submit-on-change]")) field.form.requestSubmit();
  });

  document.addEventListener("DOMContentLoaded", () => {
    drawChart();
    loadGroupProperties().catch((error) => console.warn("no group property suggestions:", error));
  });
})();
