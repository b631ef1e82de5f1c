"use strict";
// Shared by every rbench page. The data comes from the JSON block #rbench-data and reaches the document
// only as text (text nodes, textContent, attribute values): model output is never parsed as markup.
const rb = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";

  function readData() {
    return JSON.parse(document.getElementById("rbench-data").textContent);
  }

  function append(parent, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(parent, child);
      else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return parent;
  }

  function setAttributes(node, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    return node;
  }

  // el("td", {class: "num"}, "12", child): strings become text nodes, never markup.
  function el(tag, attrs, ...children) {
    return append(setAttributes(document.createElement(tag), attrs), children);
  }

  function svg(tag, attrs, ...children) {
    return append(setAttributes(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  const isNumber = (x) => typeof x === "number" && Number.isFinite(x);
  const percent = (x, digits = 1) => (isNumber(x) ? (100 * x).toFixed(digits) : "–");
  const fixed = (x, digits = 0) =>
    isNumber(x) ? x.toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits}) : "–";
  // Two significant digits below $1 ($0.10, $0.0012), cents above, whole dollars from $100.
  function money(x) {
    if (!isNumber(x)) return "–";
    if (x === 0) return "$0";
    const digits = x >= 100 ? 0 : x >= 1 ? 2 : Math.min(8, Math.max(2, 1 - Math.floor(Math.log10(x))));
    return "$" + x.toFixed(digits);
  }
  const seconds = (x) => (isNumber(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) + " s" : "–");

  // Colours that stay apart on a light background (Okabe-Ito, then Tableau).
  const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#8c6d31", "#7f7f7f",
                   "#17becf", "#bcbd22", "#9467bd", "#393b79"];
  function colorScale(keys) {
    const map = new Map();
    for (const key of keys) if (!map.has(key)) map.set(key, PALETTE[map.size % PALETTE.length]);
    return (key) => map.get(key) || "#7f7f7f";
  }

  // About `count` round tick values from the last one at or below `low` to the first at or above `high`,
  // so an axis running from the first tick to the last holds every value.
  function niceTicks(low, high, count = 5) {
    if (!(high > low)) high = low + 1;
    const raw = (high - low) / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const ticks = [];
    const last = Math.ceil(high / step - 1e-9) * step;
    for (let t = Math.floor(low / step + 1e-9) * step; t <= last + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
    return ticks;
  }

  // Text of a number for an axis: 1200 -> "1.2k".
  function compact(x) {
    const a = Math.abs(x);
    if (a >= 1e6) return +(x / 1e6).toPrecision(3) + "M";
    if (a >= 1e3) return +(x / 1e3).toPrecision(3) + "k";
    return String(+x.toPrecision(4));
  }

  return {readData, el, svg, append, isNumber, percent, fixed, money, seconds, colorScale, niceTicks, compact};
})();
