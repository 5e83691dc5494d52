// jest for the labextension (`jlpm test`, run by scripts/test.sh's lint phase): JupyterLab's
// own preset (@jupyterlab/testing: ts-jest, jsdom with Node's fetch). Unit tests of the pure
// functions (src/util.ts) and the models against a real Jupyter server (test/server.ts).
const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

// The ES-module packages to transform (the preset's list, plus JupyterLab's own).
const esModules = [
  '@codemirror',
  '@marijn',
  '@microsoft',
  '@jupyter/',
  '@jupyterlab/',
  'color',
  'exenv-es6',
  'lib0',
  'marked',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
];

module.exports = {
  ...jestJupyterLab(__dirname),
  reporters: ['default'],
  testRegex: 'test/.*\\.spec\\.ts$',
  testTimeout: 60000,
  transformIgnorePatterns: [`/node_modules/(?!${esModules.join('|')}).+`]
};
