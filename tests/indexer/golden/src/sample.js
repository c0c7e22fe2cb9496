import { parse } from "./parser";

/** Render a template with values. */
function renderTemplate(tpl, values) {
  return parse(tpl).map((p) => values[p] ?? p).join("");
}

// Cache of compiled templates.
class TemplateCache {
  constructor() {
    this.items = new Map();
  }

  /** Get or compile a template. */
  get(name) {
    return this.items.get(name) ?? renderTemplate(name, {});
  }
}

const slugify = (text) => text.toLowerCase().replace(/\s+/g, "-");
