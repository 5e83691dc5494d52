/**
 * A tiny DOM builder and JupyterLab-styled controls: the panels are plain DOM, no
 * framework needed, but every control wears `@jupyterlab/ui-components`' classes
 * (`jp-Button`, `jp-InputGroup`, `jp-HTMLSelect`) so it looks like the rest of the lab in
 * every theme.
 */
export { formatBytes } from './util';
import { caretDownEmptyIcon, fileIcon, LabIcon } from '@jupyterlab/ui-components';

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: { [name: string]: string | boolean | undefined } = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) {
      continue;
    }
    if (name === 'className') {
      el.className = String(value);
    } else {
      el.setAttribute(name, value === true ? '' : value);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      el.append(child);
    }
  }
  return el;
}

export interface IButtonOptions {
  /** accept: the section's main action; warn: destructive; default: a quiet one. */
  kind?: 'accept' | 'warn' | 'default';
  icon?: LabIcon;
  /** Tooltip; for an icon-only button also its accessible name. */
  title?: string;
  type?: 'button' | 'submit';
  /** Show only the icon (the label becomes the accessible name). */
  iconOnly?: boolean;
}

/** A `jp-Button` (ui-components' look), optionally with a LabIcon. */
export function button(label: string, options: IButtonOptions = {}): HTMLButtonElement {
  const kind = options.kind ?? 'default';
  const el = h('button', {
    type: options.type ?? 'button',
    className:
      'jp-Button jp-mod-small jp-WorkbenchButton' +
      (kind === 'default' ? ' jp-mod-minimal' : ` jp-mod-styled jp-mod-${kind}`),
    title: options.title ?? (options.iconOnly ? label : undefined),
    'aria-label': options.iconOnly ? label : undefined
  });
  if (options.icon) {
    el.append(
      options.icon.element({ tag: 'span', className: 'jp-WorkbenchButton-icon' })
    );
  }
  if (!options.iconOnly) {
    el.append(h('span', { className: 'jp-WorkbenchButton-label' }, label));
  }
  return el;
}

/** A text input inside a `jp-InputGroup`; returns the wrapper and the input. */
export function textInput(
  label: string,
  attrs: { [name: string]: string | boolean | undefined } = {}
): { group: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { type: 'text', 'aria-label': label, ...attrs });
  return {
    group: h('div', { className: 'jp-InputGroup jp-WorkbenchInput' }, input),
    input
  };
}

/** A `jp-HTMLSelect` with the given options (value, label). */
export function select(
  label: string,
  options: [string, string][],
  attrs: { [name: string]: string | boolean | undefined } = {}
): { group: HTMLElement; select: HTMLSelectElement } {
  const el = h(
    'select',
    { 'aria-label': label, ...attrs },
    ...options.map(([value, text]) => h('option', { value }, text))
  );
  const caret = caretDownEmptyIcon.element({
    tag: 'span',
    stylesheet: 'select',
    right: '7px',
    top: '5px'
  });
  return {
    group: h(
      'div',
      { className: 'jp-HTMLSelect jp-DefaultStyle jp-WorkbenchSelect' },
      el,
      caret
    ),
    select: el
  };
}

/** A labelled form row: label on the left, controls filling the rest. */
export function row(label: string, ...controls: HTMLElement[]): HTMLElement {
  return h(
    'label',
    { className: 'jp-WorkbenchForm-row' },
    h('span', { className: 'jp-WorkbenchForm-label' }, label),
    ...controls
  );
}

/** A checkbox with its label. */
export function checkbox(
  label: string,
  attrs: { [name: string]: string | boolean | undefined } = {}
): { label: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { type: 'checkbox', ...attrs });
  return {
    label: h('label', { className: 'jp-WorkbenchCheckbox' }, input, h('span', {}, label)),
    input
  };
}

/** A message line (status or error) under a form. */
export function say(el: HTMLElement, text: string, error = false): void {
  el.textContent = text;
  el.classList.toggle('jp-mod-error', error);
}

/**
 * A "Use selected" button: hands the file browser's selected path to `use`, or calls
 * `onNone` when nothing is selected.
 */
export function useSelectedButton(
  selectedPath: () => string | null,
  use: (path: string) => void,
  labels: { label: string; title: string },
  onNone?: () => void
): HTMLButtonElement {
  const el = button(labels.label, {
    title: labels.title,
    icon: fileIcon,
    iconOnly: true
  });
  el.classList.add('jp-WorkbenchUseSelected');
  el.addEventListener('click', () => {
    const path = selectedPath();
    if (path) {
      use(path);
    } else {
      onNone?.();
    }
  });
  return el;
}
