// Progressive enhancement only: every page works without this script.
// Rankings: drag a response to reorder; the rank selects follow the new order.
document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("ranking");
  if (!list) return;
  let dragged = null;
  const renumber = () => {
    [...list.children].forEach((li, i) => { li.querySelector("select").value = String(i + 1); });
  };
  list.addEventListener("dragstart", (e) => {
    dragged = e.target.closest("li");
    dragged.classList.add("dragging");
  });
  list.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    renumber();
  });
  list.addEventListener("dragover", (e) => {
    e.preventDefault();
    const over = e.target.closest("li");
    if (!dragged || !over || over === dragged) return;
    const after = e.clientY > over.getBoundingClientRect().top + over.offsetHeight / 2;
    list.insertBefore(dragged, after ? over.nextSibling : over);
  });
});
