// Page behaviour that htmx does not cover: a confirmation before plain forms marked data-confirm.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
