/** The StreamGate web app: header with wallet sign-in, and the pages behind a tiny router. */
import { icon } from "./icons";
import "./styles.css";
import { account, accountMessage, renderAccount } from "./account";
import { h, replace } from "./dom";
import { route, startRouter, type Page } from "./router";
import { isAdmin, onSessionChange, session, watchWallet } from "./session";
import { libraryPage } from "./pages/library";
import { uploadPage } from "./pages/upload";
import { watchPage } from "./pages/watch";
import { adminPage } from "./pages/admin";
import { goLivePage } from "./pages/golive";
import { channelPage } from "./pages/channel";
import { embedPage } from "./pages/embed";
import { studioPage } from "./pages/studio";

const app = document.getElementById("app")!;
const nav = h("nav", { class: "site-nav", "aria-label": "Main" });
const main = h("main", { id: "main", class: "site-main", tabindex: -1 });

replace(
	app,
	h(
		"header",
		{ class: "site-header" },
		h(
			"div",
			{ class: "header-inner" },
			h(
				"a",
				{ class: "brand", href: "/" },
				h("span", { class: "brand-mark", "aria-hidden": "true" }, icon("play", 16)),
				h("span", { class: "brand-name" }, "StreamGate"),
			),
			nav,
			account,
		),
		accountMessage,
	),
	main,
	h(
		"footer",
		{ class: "site-footer" },
		"StreamGate · ",
		h("a", { href: "/api/openapi.json" }, "REST API (OpenAPI)"),
	),
);

function renderNav(path = location.pathname): void {
	const link = (href: string, text: string, active: boolean) =>
		h("a", { href, "aria-current": active ? "page" : null }, text);
	replace(
		nav,
		link("/", "Library", path === "/"),
		link("/upload", "Upload", path === "/upload"),
		session() ? link("/studio", "My videos", path === "/studio") : null,
		link("/live", "Go live", path.startsWith("/live")),
		isAdmin() ? link("/admin", "Admin", path === "/admin") : null,
	);
}

const notFound = (): Page => ({
	title: "Not found",
	render: () =>
		h(
			"section",
			{ class: "page" },
			h("h1", { class: "page-title", tabindex: -1 }, "Page not found"),
			h(
				"p",
				null,
				"There is nothing at this address. ",
				h("a", { href: "/" }, "Go to the library"),
				".",
			),
		),
});

route("/", libraryPage);
route("/upload", uploadPage);
route("/watch/:id", watchPage);
route("/admin", adminPage);
route("/live", goLivePage);
route("/live/:id", goLivePage);
route("/c/:address", channelPage);
route("/embed/:id", embedPage);
route("/studio", studioPage);

onSessionChange(() => {
	renderAccount();
	renderNav();
});
watchWallet();
renderAccount();
startRouter({ outlet: main, notFound, changed: renderNav });
