// Kettle admin: a little JavaScript on top of pages that work without it.
// (htmx, shipped in admin/vendor/, swaps the list's results; see list.html.)

// Suggestions for autocomplete fields, fetched as the user types.
// Without JavaScript the field still works: the related row's key is typed.
document.querySelectorAll("input[data-autocomplete]").forEach((input) => {
  const list = document.getElementById(input.getAttribute("list"));
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const url = `${input.dataset.autocomplete}&q=${encodeURIComponent(input.value)}`;
      const response = await fetch(url, { headers: { accept: "application/json" } });
      if (!response.ok) return;
      const rows = await response.json();
      list.replaceChildren(
        ...rows.map((row) => {
          const option = document.createElement("option");
          option.value = String(row.id);
          option.label = row.label;
          option.textContent = row.label;
          return option;
        }),
      );
    }, 200);
  });
});

// "Select all" in the list's header row: shown only with JavaScript (it is
// rendered hidden), and handled by delegation, so that it keeps working when
// htmx swaps the results in.
const rowBoxes = (table) => table.querySelectorAll('tbody input[type=checkbox][name="ids"]');

function revealSelectAll(root) {
  root.querySelectorAll("input.select-all[hidden]").forEach((box) => {
    box.hidden = false;
  });
}

function syncSelectAll(table) {
  const all = table.querySelector("input.select-all");
  if (!all) return;
  const boxes = [...rowBoxes(table)];
  const checked = boxes.filter((box) => box.checked).length;
  all.checked = boxes.length > 0 && checked === boxes.length;
  all.indeterminate = checked > 0 && checked < boxes.length;
}

document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
  const table = box.closest("table");
  if (!table) return;
  if (box.classList.contains("select-all")) {
    rowBoxes(table).forEach((row) => {
      row.checked = box.checked;
    });
  } else if (box.name === "ids") {
    syncSelectAll(table);
  }
});

revealSelectAll(document);

// After htmx swaps the list's results in: show their "select all" box, and
// tell screen readers how many records there are now.
document.addEventListener("htmx:load", (event) => revealSelectAll(event.target));
document.addEventListener("htmx:afterSettle", (event) => {
  const news = document.getElementById("results-news");
  const count = document.querySelector("#results caption");
  if (news && count && event.target.id === "results") news.textContent = count.textContent;
});
