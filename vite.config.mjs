/**
 * Vite: the browser app under web/ (vanilla TypeScript), built to web/dist, which the gateway
 * serves at `/` (mixins/web-app.mixin.ts). Plain ESM so that neither the root tsconfig (Node
 * only) nor the web one (DOM only) has to own it.
 *
 * `npx vite` serves the app on :5173 and proxies the API to STREAMGATE_URL (default
 * http://localhost:3000); sign-in there needs SIWE_DOMAIN=localhost:5173 on the server.
 */
import { defineConfig } from "vite";

const api = process.env.STREAMGATE_URL ?? "http://localhost:3000";

export default defineConfig({
	root: "web",
	build: {
		// The gateway builds into a temporary folder (`--outDir`) and renames it into place.
		outDir: "dist",
		emptyOutDir: true,
		target: "es2022",
		chunkSizeWarningLimit: 1024,
	},
	server: {
		proxy: { "/api": api, "/play": api },
	},
});
