// ESLint: typescript-eslint recommended with type-aware no-floating-promises; lib/ never imports moleculer.
import tseslint from "typescript-eslint";

export default tseslint.config(
	{
		ignores: [
			"node_modules",
			"dist",
			"data",
			"coverage",
			"test-output",
			"web/dist",
			"**/*.js",
			"**/*.mjs",
		],
	},
	...tseslint.configs.recommended,
	{
		languageOptions: {
			parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
		},
		rules: {
			"@typescript-eslint/no-floating-promises": "error",
			"@typescript-eslint/no-explicit-any": "off",
			"@typescript-eslint/no-unused-vars": [
				"error",
				{ argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
			],
			"@typescript-eslint/no-require-imports": "off",
		},
	},
	{
		files: ["lib/**/*.ts"],
		rules: {
			"no-restricted-imports": ["error", { patterns: ["moleculer", "moleculer-*"] }],
		},
	},
);
