// The ipywidgets manager typesets widget labels with MathJax 2's `MathJax.Hub.Queue`; the site
// loads MathJax 3. This file (loaded before MathJax) forwards such calls to MathJax 3.
(function () {
  function queue(job) {
    var mj = window.MathJax;
    if (mj && typeof mj.typesetPromise === "function") {
      var el = Array.isArray(job) ? job[2] : undefined;
      mj.typesetPromise(el ? [el] : undefined).catch(function () {});
    }
  }
  var cfg = (window.MathJax = window.MathJax || {});
  cfg.Hub = { Queue: queue };
  cfg.startup = cfg.startup || {};
  var ready = cfg.startup.ready;
  cfg.startup.ready = function () {
    if (ready) {
      ready();
    } else {
      window.MathJax.startup.defaultReady();
    }
    window.MathJax.Hub = { Queue: queue };
  };
})();
