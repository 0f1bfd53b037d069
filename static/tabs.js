// Tabs (role="tablist"), as the WAI-ARIA tabs pattern with manual activation asks:
// - roving tabindex: only the selected tab is in the Tab sequence (tabindex 0, the others -1),
//   so Tab from the tab strip goes on to the tab panel;
// - ArrowLeft/ArrowRight move the focus between tabs and wrap round, Home and End go to the first
//   and the last; Enter (each tab is a link) or Space opens the focused tab.
// The model page's tabs are swapped in by htmx together with their tab strip (hx-swap outerHTML
// of #model-tabs), so nothing here is bound to a tab: the key handler listens on the document
// (added once, though htmx may run this file again), and the roving tabindex is set again on every
// piece of content htmx loads. Without JavaScript each tab is a plain link and no tabindex is set.
(() => {
  if (window.assayTabs) return;
  window.assayTabs = true;

  const rove = (root) => {
    const lists = root.matches && root.matches('[role="tablist"]')
      ? [root] : Array.from(root.querySelectorAll('[role="tablist"]'));
    for (const list of lists) {
      const tabs = Array.from(list.querySelectorAll('[role="tab"]'));
      const selected = tabs.find((t) => t.getAttribute("aria-selected") === "true") || tabs[0];
      for (const t of tabs) t.setAttribute("tabindex", t === selected ? "0" : "-1");
    }
  };

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const tab = event.target.closest && event.target.closest('[role="tab"]');
    if (!tab) return;
    const list = tab.closest('[role="tablist"]');
    if (!list) return;
    if (event.key === " ") {
      event.preventDefault();
      tab.click();
      return;
    }
    const tabs = Array.from(list.querySelectorAll('[role="tab"]'));
    const at = tabs.indexOf(tab);
    const next = {ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1}[event.key];
    if (next === undefined) return;
    event.preventDefault();
    tabs[(next + tabs.length) % tabs.length].focus();
  });

  document.addEventListener("htmx:load", (event) => rove(event.detail.elt));
  rove(document);
})();
