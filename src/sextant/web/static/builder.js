// The insight builder: rows of series, steps and filters added and removed, the custom dates shown when
// chosen, a new chart type applied at once, and the chart drawn with the vendored vega-embed.
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

  document.addEventListener("change", (event) => {
    const field = event.target;
    if (field.name === "date_range") {
      const custom = field.form.querySelector(".builder-custom-dates");
      if (custom) custom.hidden = field.value !== "custom";
    }
    if (field.matches("[data-submit-on-change]")) field.form.requestSubmit();
  });

  document.addEventListener("DOMContentLoaded", drawChart);
})();
