/** Jest: ts-jest without type checking (`npm run typecheck` does that once for the whole tree). */
module.exports = {
	testEnvironment: "node",
	roots: ["<rootDir>/test"],
	testMatch: ["**/*.spec.ts"],
	transform: {
		"^.+\\.ts$": ["ts-jest", { diagnostics: false }],
	},
	testTimeout: 120000,
	setupFiles: ["<rootDir>/test/helpers/jest-setup.ts"],
};
