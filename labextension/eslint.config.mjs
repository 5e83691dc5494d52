// Lint for the labextension's TypeScript (run by `jlpm lint:check`, i.e. scripts/test.sh).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/**', 'node_modules/**', '../jupyter_workbench/labextension/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    languageOptions: {
      parserOptions: { project: false }
    },
    rules: {
      // The REST payloads are typed at the edges; `any` is used where JupyterLab's own
      // types are looser than ours (plugin lists).
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'smart'],
      curly: ['error', 'all'],
      'no-console': ['error', { allow: ['warn', 'error'] }]
    }
  }
);
