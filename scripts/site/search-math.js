// Search results without raw TeX. Sphinx's search page shows, for each result, a title from the
// search index and a snippet of the page's text; where those hold math, the reader would see
// TeX source ("Why divide by \sqrt{d_k}"). This file (loaded on the search page after Sphinx's
// searchtools.js) writes such math as plain text instead ("Why divide by √dₖ"):
// - snippets: each formula of the page (.math, whose TeX is in its data-tex attribute, see
//   prerender_math.py) is replaced by its text before the snippet is cut from the page's text;
// - titles: a result's title with TeX commands in it is rewritten as it is shown.
"use strict";

(function () {
  // prettier-ignore
  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
    eta: "η", theta: "θ", vartheta: "ϑ", iota: "ι", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν",
    xi: "ξ", pi: "π", rho: "ρ", sigma: "σ", tau: "τ", upsilon: "υ", phi: "φ", varphi: "φ",
    chi: "χ", psi: "ψ", omega: "ω", Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Xi: "Ξ",
    Pi: "Π", Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω",
    cdot: "·", times: "×", div: "÷", pm: "±", mp: "∓", ast: "∗", star: "⋆", circ: "∘",
    odot: "⊙", otimes: "⊗", oplus: "⊕", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠",
    neq: "≠", ll: "≪", gg: "≫", approx: "≈", sim: "∼", simeq: "≃", equiv: "≡", propto: "∝",
    to: "→", rightarrow: "→", leftarrow: "←", Rightarrow: "⇒", Leftarrow: "⇐",
    leftrightarrow: "↔", mapsto: "↦", infty: "∞", sum: "∑", prod: "∏", int: "∫",
    partial: "∂", nabla: "∇", in: "∈", notin: "∉", subset: "⊂", subseteq: "⊆", cup: "∪",
    cap: "∩", forall: "∀", exists: "∃", emptyset: "∅", top: "⊤", intercal: "ᵀ", perp: "⊥",
    ldots: "…", dots: "…", cdots: "⋯", vdots: "⋮", mid: "|", vert: "|", lvert: "|",
    rvert: "|", Vert: "‖", lVert: "‖", rVert: "‖", langle: "⟨", rangle: "⟩", lfloor: "⌊",
    rfloor: "⌋", lceil: "⌈", rceil: "⌉", prime: "′", ell: "ℓ", log: "log", ln: "ln",
    exp: "exp", max: "max", min: "min", arg: "arg", argmax: "argmax", argmin: "argmin",
    sin: "sin", cos: "cos", tanh: "tanh", lim: "lim", det: "det",
    "{": "{", "}": "}", "%": "%", "_": "_", "#": "#", "&": "&", $: "$",
    ",": " ", ";": " ", ":": " ", " ": " ", quad: " ", qquad: " ", "!": "", "\\": " ",
    "(": "", ")": "", "[": "", "]": "",
  };
  // commands whose argument is shown as it is (with a combining accent for one letter)
  const KEEP = new Set([
    "text", "textrm", "textbf", "textit", "texttt", "textsf", "emph", "mbox", "hbox",
    "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathcal", "mathscr", "mathfrak",
    "boldsymbol", "bm", "operatorname", "underline", "overline", "widehat", "widetilde",
  ]);
  const ACCENTS = { hat: "\u0302", bar: "\u0304", tilde: "\u0303", vec: "\u20d7", dot: "\u0307" };
  // commands that show nothing (sizes and styles)
  const NOTHING = new Set([
    "left", "right", "middle", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
    "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "nonumber", "notag",
  ]);
  const DOUBLE = { R: "ℝ", N: "ℕ", Z: "ℤ", Q: "ℚ", C: "ℂ", E: "𝔼", P: "ℙ" };
  const SUB = toMap("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ");
  const SUP = toMap(
    "0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVW⊤′",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵀ′",
  );

  function toMap(from, to) {
    const a = [...from];
    const b = [...to];
    return new Map(a.map((c, k) => [c, b[k]]));
  }

  // a sub- or superscript in Unicode where every character has one, else marked with _ or ^
  function script(text, map, mark) {
    const chars = [...text.replace(/\s+/g, "")];
    if (chars.length && chars.every((c) => map.has(c))) return chars.map((c) => map.get(c)).join("");
    return mark + (chars.length > 1 ? `(${text.trim()})` : text.trim());
  }

  // parentheses around a fraction's part or a root's argument that is more than one term
  function group(text) {
    const t = text.trim();
    return /[\s+\-−·×/=,]/.test(t) ? `(${t})` : t;
  }

  // TeX -> readable plain text: a small reader of TeX's syntax (commands, groups, scripts)
  function texToText(tex) {
    const src = String(tex);
    let i = 0;
    const spaces = () => {
      while (i < src.length && /\s/.test(src[i])) i++;
    };
    const sequence = (end) => {
      let out = "";
      while (i < src.length && src[i] !== end) out += item();
      return out;
    };
    const argument = () => {
      spaces();
      if (src[i] === "{") {
        i++;
        const out = sequence("}");
        i++;
        return out;
      }
      return i < src.length ? item() : "";
    };
    const command = () => {
      i++; // the backslash
      const word = /^[a-zA-Z]+/.exec(src.slice(i));
      const name = word ? word[0] : src[i] || "";
      i += name.length || 1;
      if (name in SYMBOLS) return SYMBOLS[name];
      if (name === "frac" || name === "dfrac" || name === "tfrac") {
        const top = argument();
        return `${group(top)}/${group(argument())}`;
      }
      if (name === "sqrt") {
        spaces();
        if (src[i] === "[") i = src.indexOf("]", i) + 1 || src.length;
        return `√${group(argument())}`;
      }
      if (name === "mathbb") {
        const arg = argument();
        return DOUBLE[arg] || arg;
      }
      if (name in ACCENTS) {
        const arg = argument();
        return [...arg].length === 1 ? arg + ACCENTS[name] : arg;
      }
      if (KEEP.has(name)) return argument();
      if (name === "begin" || name === "end") {
        argument();
        return " ";
      }
      if (NOTHING.has(name)) {
        spaces();
        if (src[i] === ".") i++; // \left. shows nothing
        return "";
      }
      return name; // an operator name (\softmax) or a command this reader does not know
    };
    const item = () => {
      const c = src[i];
      if (c === "\\") return command();
      i++;
      if (c === "{") {
        const out = sequence("}");
        i++;
        return out;
      }
      if (c === "_") return script(argument(), SUB, "_");
      if (c === "^") return script(argument(), SUP, "^");
      if (c === "}" || c === "$" || c === "&") return "";
      if (c === "~") return " ";
      return c;
    };
    return sequence(undefined).replace(/\s+/g, " ").trim().normalize("NFC");
  }

  const TEX = /\\[a-zA-Z]|[_^]\{/;

  // Sphinx's summary of a result (Search.makeSearchSummary in searchtools.js, same output):
  // about 240 characters of the page's text around the last search term found in it, here with
  // its math as text. A term found only in a formula's TeX ("sqrt") centres it on that formula.
  function makeSearchSummary(htmlText, keywords, anchor) {
    const page = new DOMParser().parseFromString(htmlText, "text/html");
    const formulas = [];
    page.querySelectorAll(".math").forEach((el) => {
      const tex = el.dataset.tex !== undefined ? el.dataset.tex : el.textContent;
      const text = texToText(tex);
      formulas.push([text, tex.toLowerCase()]);
      el.replaceWith(el.tagName === "DIV" ? ` ${text} ` : text);
    });
    const text = Search.htmlToText(page.documentElement.outerHTML, anchor);
    if (text === "") return null;
    const terms = [...keywords].map((k) => k.toLowerCase());
    const lower = text.toLowerCase();
    let at = terms.map((k) => lower.indexOf(k)).filter((i) => i > -1).slice(-1)[0];
    for (const [shown, tex] of formulas) {
      if (at !== undefined) break;
      const has = terms.some((k) => tex.includes(k));
      if (shown && has && text.includes(shown)) at = text.indexOf(shown);
    }
    const start = Math.max((at || 0) - 120, 0);
    const summary = document.createElement("p");
    summary.classList.add("context");
    summary.textContent =
      (start === 0 ? "" : "...") +
      text.substr(start, 240).trim() +
      (start + 240 < text.length ? "..." : "");
    return summary;
  }

  function install() {
    if (typeof Search === "undefined") return;
    Search.makeSearchSummary = makeSearchSummary;
    const results = document.getElementById("search-results");
    if (!results) return;
    const clean = (root) =>
      root.querySelectorAll("li > a").forEach((a) => {
        if (TEX.test(a.textContent)) a.textContent = texToText(a.textContent);
      });
    new MutationObserver(() => clean(results)).observe(results, { childList: true, subtree: true });
  }

  window.courseTexToText = texToText;
  install();
})();
