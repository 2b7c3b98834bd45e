/* Draws the course's figures on the static site.
 *
 * Each figure is stored in its notebook output as an empty div and a JSON script
 * (llmcourse.viz.render.figure_html). This file is small and loaded on every page; plotly.js
 * (4.7 MB) is fetched only by pages that have a figure, asynchronously, so the text appears
 * first. On a narrow screen a figure is adapted before it is drawn: one that carries a layout
 * for a phone (layout.meta.phone, e.g. token boxes in shorter lines) is drawn with it, a row of
 * buttons becomes a dropdown, long titles and subplot titles wrap (with room made for their
 * extra lines), the legend and titles use a smaller font, and a 3-D scene is seen from farther
 * away. Once drawn, at any width, a figure whose open dropdown
 * would reach below it is made taller, an x axis title that would stick out of it wraps, and
 * bars too narrow for their value written level above them get it written upright.
 *
 * The figures come laid out for this (llmcourse.viz.theme and render.fit_header): the title
 * hangs from the figure's top edge, and the top margin holds its lines, the subplot titles and
 * the controls, which stand on the plot's top edge; so a line more here is a margin taller.
 */
(function () {
  "use strict";
  var MIME = "application/vnd.llmcourse.figure+json";
  var NARROW = 600; // px: below this width a figure is laid out for a phone
  var TITLE_LINE = 19; // px: one line of a 14 px title (on a phone)
  var DESKTOP_LINE = 20; // px: one line of a 15 px title (the course's, llmcourse.viz.theme)
  var MULTILINE_SHIFT = 11; // px: how much higher plotly draws a title of several lines
  var NOTE_LINE = 14; // px: one line of an 11 px subplot title
  var PHONE_PAD = 10; // px above the title on a phone, which has no toolbar
  var PHONE_ZOOM = 1.6; // how much farther a 3-D scene's camera stands on a phone
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

  // a layout's value at `path` (e.g. ["margin", "t"]), else its template's, else `fallback`
  function setting(layout, path, fallback) {
    var sources = [layout, (layout.template || {}).layout || {}];
    for (var i = 0; i < sources.length; i++) {
      var value = path.reduce(function (obj, key) {
        return obj && typeof obj === "object" ? obj[key] : undefined;
      }, sources[i]);
      if (value !== undefined) return value;
    }
    return fallback;
  }

  // the most lines of the titles a figure shows: its own, or those its controls set
  function titleLines(layout) {
    var most = lines(titleText(layout.title) || "");
    (layout.updatemenus || []).concat(layout.sliders || []).forEach(function (control) {
      (control.buttons || control.steps || []).forEach(function (entry) {
        var arg = (entry.args || [])[1];
        if (!arg || typeof arg !== "object") return;
        var value = arg["title.text"] !== undefined ? arg["title.text"] : titleText(arg.title);
        if (typeof value === "string") most = Math.max(most, lines(value));
      });
    });
    return most;
  }

  // lay a figure out for the width of its cell: sized to it, and adapted when it is a phone's
  function adapt(fig, width) {
    var layout = fig.layout || (fig.layout = {});
    delete layout.width; // a figure sizes to its container
    if (width >= NARROW) return;
    var phone = layout.meta && layout.meta.phone;
    if (phone) {
      // the figure laid out for a phone that it carries (llmcourse.viz.render.phone_variant)
      fig.data = phone.data;
      fig.layout = layout = Object.assign({ template: layout.template }, phone.layout);
      delete layout.width;
    }
    var chars = Math.floor((width - 24) / 8); // characters of a 14 px title per line
    layout.margin = Object.assign({}, layout.margin);
    var top = setting(layout, ["margin", "t"], 64);
    var grow = 0; // px added to the top margin, and so to the figure's height
    var text = titleText(layout.title);
    if (typeof text === "string" && text !== "") {
      var before = titleLines(layout);
      if (typeof layout.title === "string") layout.title = { text: layout.title };
      layout.title.text = wrap(text, chars);
      layout.title.font = Object.assign({}, layout.title.font, { size: 14 });
      (layout.updatemenus || []).concat(layout.sliders || []).forEach(function (control) {
        (control.buttons || control.steps || []).forEach(function (entry) {
          wrapArgs(entry.args, chars);
        });
      });
      var after = titleLines(layout);
      // course.css hides the toolbar on a phone: no room to keep for it above the title; plotly
      // draws a title of several lines MULTILINE_SHIFT px higher than one of a single line
      var padTop = setting(layout, ["title", "pad", "t"], 0) - (before > 1 ? MULTILINE_SHIFT : 0);
      var pad = Math.min(padTop, PHONE_PAD);
      layout.title.pad = Object.assign({}, layout.title.pad, {
        t: pad + (after > 1 ? MULTILINE_SHIFT : 0),
      });
      grow += pad - padTop + after * TITLE_LINE - before * DESKTOP_LINE;
    }
    layout.margin.l = Math.min(setting(layout, ["margin", "l"], 60), 50);
    layout.margin.r = Math.min(setting(layout, ["margin", "r"], 20), 12);
    layout.legend = Object.assign({}, layout.legend, {
      orientation: "h",
      x: 0,
      xanchor: "left",
      font: { size: 11 },
    });
    // subplot titles and other notes placed on the paper: wrapped to their share of the width;
    // the extra lines of those standing on a plot's top edge need room above the plot, and the
    // controls above them stand higher by as much
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
      if (note.y >= 1 && note.yanchor === "bottom") {
        extra = Math.max(extra, (lines(note.text) - before) * NOTE_LINE);
      }
    });
    if (extra) {
      (layout.updatemenus || []).concat(layout.sliders || []).forEach(function (control) {
        control.pad = Object.assign({}, control.pad);
        control.pad.b = (control.pad.b || 0) + extra;
      });
      grow += extra;
    }
    if (grow) {
      layout.margin.t = top + grow;
      if (layout.height) layout.height += grow;
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
    });
    (layout.sliders || []).forEach(function (slider) {
      slider.font = Object.assign({}, slider.font, { size: 11 });
    });
    // a 3-D scene seen from farther away, so that its axes and their titles fit the width,
    // which it takes nearly all of (its axes are inside it: little margin to keep for them)
    Object.keys(layout).forEach(function (key) {
      if (!/^scene\d*$/.test(key)) return;
      layout.margin.l = layout.margin.r = 8;
      var scene = (layout[key] = Object.assign({}, layout[key]));
      var camera = (scene.camera = Object.assign({}, scene.camera));
      var eye = Object.assign({ x: 1.25, y: 1.25, z: 1.25 }, camera.eye);
      camera.eye = { x: eye.x * PHONE_ZOOM, y: eye.y * PHONE_ZOOM, z: eye.z * PHONE_ZOOM };
      ["xaxis", "yaxis", "zaxis"].forEach(function (name) {
        var axis = (scene[name] = Object.assign({}, scene[name]));
        axis.title = Object.assign({}, axis.title);
        axis.title.font = Object.assign({}, axis.title.font, { size: 11 });
        axis.tickfont = Object.assign({}, axis.tickfont, { size: 10 });
      });
    });
  }

  // a dropdown opens down over the plot: the figure's height that shows all its entries
  function dropdownHeight(target, svgBox) {
    var need = 0;
    target.querySelectorAll(".updatemenu-header-group").forEach(function (group) {
      var menu = group.__data__ || {};
      var header = group.querySelector(".updatemenu-header");
      if (menu.type !== "dropdown" || !header) return;
      var box = header.getBoundingClientRect();
      var entries = (menu.buttons || []).filter(function (b) {
        return b.visible !== false;
      }).length;
      need = Math.max(need, box.bottom - svgBox.top + entries * (box.height + 2) + 8);
    });
    return Math.ceil(need);
  }

  // an x axis title is centred on its plot: wrapped when it would stick out of the figure
  function axisTitles(target, svgBox, update) {
    target.querySelectorAll(".g-xtitle, [class^='g-x'][class$='title']").forEach(function (g) {
      var text = g.querySelector("text");
      var axis = (g.getAttribute("class") || "").replace(/^g-/, "").replace(/title$/, "");
      var layoutAxis = target.layout[axis.replace(/^x/, "xaxis")];
      var title = layoutAxis && layoutAxis.title;
      var words = typeof title === "string" ? title : title && title.text;
      if (!text || typeof words !== "string") return;
      var box = text.getBoundingClientRect();
      var centre = (box.left + box.right) / 2;
      var room = 2 * Math.min(centre - svgBox.left, svgBox.right - centre) - 8;
      if (box.width <= room + 1) return;
      var perLine = Math.floor((words.length * room) / box.width);
      update[axis.replace(/^x/, "xaxis") + ".title.text"] = wrap(words, perLine);
    });
  }

  // bars too narrow for their value written level above them: the values stand upright
  function barLabels(target, restyle) {
    target.querySelectorAll(".trace.bars").forEach(function (group) {
      var data = group.__data__ || [];
      var trace = data[0] && data[0].trace;
      var bar = group.querySelector(".point path");
      var label = group.querySelector(".point text");
      if (!trace || !bar || !label || trace.orientation === "h") return;
      if (trace.textangle !== undefined && trace.textangle !== 0 && trace.textangle !== "auto")
        return;
      var width = bar.getBoundingClientRect().width;
      var widest = 0;
      group.querySelectorAll(".point text").forEach(function (t) {
        widest = Math.max(widest, t.getBoundingClientRect().width);
      });
      // a label a little wider than its bar still clears its neighbours' labels
      if (widest > 1.25 * width + 2) restyle.push(trace.index);
    });
  }

  // once drawn: room for open dropdowns, x axis titles that fit, bar values that can be read
  function fitDrawn(target) {
    var svg = target.querySelector(".main-svg");
    if (!svg) return;
    var svgBox = svg.getBoundingClientRect();
    var update = {};
    var need = dropdownHeight(target, svgBox);
    if (need > svgBox.height + 1) {
      update.height = need;
      target.style.height = need + "px";
    }
    axisTitles(target, svgBox, update);
    var upright = [];
    barLabels(target, upright);
    var done = Object.keys(update).length ? window.Plotly.relayout(target, update) : null;
    if (upright.length) {
      return Promise.resolve(done).then(function () {
        return window.Plotly.restyle(target, { textangle: -90 }, upright);
      });
    }
    return done;
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
        window.Plotly.newPlot(target, fig.data, fig.layout, fig.config).then(function () {
          return fitDrawn(target);
        });
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
