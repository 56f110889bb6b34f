// Lint of the JupyterLab extension (src/) and the instructor page (dashboard/src/);
// formatting is prettier's job.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/', 'node_modules/', 'cell_monitor/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['src/**/*.ts', 'dashboard/src/**/*.ts'],
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: { regex: '^I[A-Z]', match: true }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none' }],
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error'
    }
  },
  {
    // Generated from the Python contract (npm run generate:types): its names are the models'.
    files: ['**/*.gen.ts'],
    rules: { '@typescript-eslint/naming-convention': 'off' }
  },
  {
    files: ['src/**/__tests__/**/*.ts', 'dashboard/src/__tests__/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' }
  }
);
