// Canned replies: choosing one puts its text into the reply box (appended, never replacing typed text).
(function () {
  "use strict";
  document.querySelectorAll("[data-canned-into]").forEach(function (select) {
    select.addEventListener("change", function () {
      var box = document.getElementById(select.getAttribute("data-canned-into"));
      if (!box || !select.value) { return; }
      box.value = box.value ? box.value.replace(/\s*$/, "") + "\n\n" + select.value : select.value;
      select.value = "";
      box.focus();
    });
  });
})();
