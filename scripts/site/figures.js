/* Draws the course's figures on the static site.
 *
 * Each figure is stored in its notebook output as an empty div and a JSON script
 * (llmcourse.viz.render.figure_html). This file is small and loaded on every page; plotly.js
 * (4.7 MB) is fetched only by pages that have a figure, asynchronously, so the text appears
 * first. On a narrow screen a figure is adapted before it is drawn: a row of buttons becomes a
 * dropdown, long titles wrap, and the legend and titles use a smaller font.
 */
(function () {
  "use strict";
  var MIME = "application/vnd.llmcourse.figure+json";
  var NARROW = 600; // px: below this width a figure is laid out for a phone
  var base = document.currentScript.src.replace(/[^/]*$/, "");

  // break text into lines of at most `width` characters at spaces, keeping existing <br>s
  function wrap(text, width) {
    if (typeof text !== "string" || width < 8) return text;
    return text
      .split(/<br\s*\/?>/i)
      .map(function (line) {
        var plain = line.replace(/<[^>]*>/g, "");
        if (plain.length <= width) return line;
        var words = line.split(" ");
        var out = [];
        var current = "";
        words.forEach(function (word) {
          var candidate = current ? current + " " + word : word;
          if (current && candidate.replace(/<[^>]*>/g, "").length > width) {
            out.push(current);
            current = word;
          } else {
            current = candidate;
          }
        });
        if (current) out.push(current);
        return out.join("<br>");
      })
      .join("<br>");
  }

  function lines(text) {
    return typeof text === "string" ? text.split(/<br\s*\/?>/i).length : 1;
  }

  function titleText(title) {
    if (title === undefined || title === null) return undefined;
    return typeof title === "string" ? title : title.text;
  }

  // a title that buttons, sliders or menus set: wrap it like the layout's own
  function wrapArgs(args, width) {
    (args || []).forEach(function (arg) {
      if (!arg || typeof arg !== "object") return;
      Object.keys(arg).forEach(function (key) {
        if (key === "title.text" || key === "title") {
          var value = arg[key];
          if (typeof value === "string") arg[key] = wrap(value, width);
          else if (value && typeof value.text === "string") value.text = wrap(value.text, width);
        }
      });
    });
  }

  function adapt(fig, width) {
    var layout = fig.layout || (fig.layout = {});
    delete layout.width; // a figure sizes to its container
    if (width >= NARROW) return;
    var chars = Math.floor((width - 24) / 8); // characters of a 14 px title per line
    var text = titleText(layout.title);
    if (text !== undefined) {
      if (typeof layout.title === "string") layout.title = { text: layout.title };
      layout.title.text = wrap(text, chars);
      layout.title.font = Object.assign({}, layout.title.font, { size: 14 });
    }
    layout.margin = Object.assign({}, layout.margin);
    layout.margin.l = Math.min(layout.margin.l === undefined ? 60 : layout.margin.l, 50);
    layout.margin.r = Math.min(layout.margin.r === undefined ? 20 : layout.margin.r, 12);
    layout.legend = Object.assign({}, layout.legend, {
      orientation: "h",
      x: 0,
      xanchor: "left",
      font: { size: 11 },
    });
    // subplot titles and other notes placed on the paper: wrapped to their share of the width
    var notes = (layout.annotations || []).filter(function (a) {
      return a.xref === "paper" && typeof a.text === "string";
    });
    var extra = 0;
    notes.forEach(function (note) {
      var sameRow = notes.filter(function (other) {
        return other.y === note.y;
      }).length;
      var before = lines(note.text);
      note.text = wrap(note.text, Math.floor(chars / sameRow) + 2);
      note.font = Object.assign({}, note.font, { size: 11 });
      if (note.y >= 1) extra = Math.max(extra, (lines(note.text) - before) * 14);
    });
    if (extra) {
      layout.margin.t = (layout.margin.t === undefined ? 60 : layout.margin.t) + extra;
      if (layout.height) layout.height += extra;
    }
    (layout.updatemenus || []).forEach(function (menu) {
      if (menu.type === "buttons") {
        // a row of buttons wider than a phone: one dropdown in its place
        menu.type = "dropdown";
        menu.direction = "down";
        menu.x = 0;
        menu.xanchor = "left";
        menu.showactive = true;
      }
      (menu.buttons || []).forEach(function (button) {
        wrapArgs(button.args, chars);
      });
    });
    (layout.sliders || []).forEach(function (slider) {
      (slider.steps || []).forEach(function (step) {
        wrapArgs(step.args, chars);
      });
      slider.font = Object.assign({}, slider.font, { size: 11 });
    });
  }

  function draw(specs) {
    var i = 0;
    (function next() {
      if (i >= specs.length) return;
      var spec = specs[i++];
      var target = document.getElementById(spec.getAttribute("data-target"));
      if (target) {
        var fig = JSON.parse(spec.textContent);
        adapt(fig, target.clientWidth || window.innerWidth);
        if (fig.layout.height) target.style.height = fig.layout.height + "px";
        window.Plotly.newPlot(target, fig.data, fig.layout, fig.config);
      }
      setTimeout(next, 0); // one figure at a time: the page stays responsive while they draw
    })();
  }

  function start() {
    var specs = Array.prototype.slice.call(
      document.querySelectorAll('script[type="' + MIME + '"]')
    );
    if (!specs.length) return;
    if (window.Plotly) return draw(specs);
    var script = document.createElement("script");
    script.src = base + "plotly.min.js";
    script.async = true;
    script.onload = function () {
      draw(specs);
    };
    document.head.appendChild(script);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
