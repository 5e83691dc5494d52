/**
 * A tiny DOM builder: the panels are plain DOM, no framework needed.
 */
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

/** Human-readable byte count ("12.3 MB"). */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/**
 * A "Use selected" button: hands the file browser's selected path to `use`, or calls
 * `onNone` when nothing is selected.
 */
export function useSelectedButton(
  selectedPath: () => string | null,
  use: (path: string) => void,
  onNone?: () => void
): HTMLButtonElement {
  const button = h(
    'button',
    {
      className: 'jp-mod-styled',
      type: 'button',
      title: 'Use the file selected in the file browser'
    },
    'Use selected'
  );
  button.addEventListener('click', () => {
    const path = selectedPath();
    if (path) {
      use(path);
    } else {
      onNone?.();
    }
  });
  return button;
}
