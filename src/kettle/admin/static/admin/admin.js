// Kettle admin: suggestions for autocomplete fields, fetched as the user types.
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
