// Keyboard scoring on /annotation/<queue>: each choice button carries data-key (1-9, y, n);
// pressing it submits that score. Typing in the comment box is left alone.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT")) return;
  const form = document.getElementById("annotate-form");
  if (!form) return;
  const button = form.querySelector(`button[data-key="${event.key.toLowerCase()}"]`);
  if (!button) return;
  event.preventDefault();
  button.click();
});
