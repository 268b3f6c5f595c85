// Hardhat 3 config for the test EVM node (ESM, kept apart from the CommonJS project).
export default {};
