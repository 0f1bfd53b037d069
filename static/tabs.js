// Tabs (role="tablist"): the arrow keys, Home and End move between tabs, as the WAI-ARIA tabs
// pattern asks. Each tab is a link, so Tab, Enter and pages without JavaScript work anyway.
// htmx runs this file again when it swaps a tab's content in; one listener is enough.
if (!window.assayTabKeys) {
window.assayTabKeys = true;
document.addEventListener("keydown", (event) => {
  const tab = event.target.closest && event.target.closest('[role="tab"]');
  if (!tab) return;
  const tabs = Array.from(tab.closest('[role="tablist"]').querySelectorAll('[role="tab"]'));
  const at = tabs.indexOf(tab);
  const next = {ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1}[event.key];
  if (next === undefined) return;
  event.preventDefault();
  tabs[(next + tabs.length) % tabs.length].focus();
});
}
