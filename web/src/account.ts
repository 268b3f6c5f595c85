/** The wallet part of the header: "Sign in", or the address and "Sign out"; sign-in errors. */
import { errorMessage } from "./api";
import { h, notice, replace, shortAddress } from "./dom";
import { session, signIn, signOut } from "./session";

/** Where the header says what went wrong with a sign-in. */
export const accountMessage = h("div", { class: "account-message", "aria-live": "polite" });
export const account = h("div", { class: "account" });

/** Redraws the header's account area for the current session. */
export function renderAccount(): void {
	const s = session();
	if (s) {
		replace(
			account,
			h(
				"span",
				{ class: "address", title: s.address, "data-address": s.address },
				h("span", { class: "visually-hidden" }, "Signed in as "),
				shortAddress(s.address),
			),
			h(
				"button",
				{ type: "button", class: "btn btn-quiet", onClick: () => void signOut() },
				"Sign out",
			),
		);
	} else {
		replace(account, signInButton("Sign in", "btn-primary"));
	}
}

/** A "Sign in" button (header, or a page that needs a wallet). */
export function signInButton(label = "Sign in", style = "btn-primary"): HTMLButtonElement {
	const btn: HTMLButtonElement = h(
		"button",
		{ type: "button", class: `btn ${style}`, onClick: () => void doSignIn(btn, label) },
		label,
	);
	return btn;
}

async function doSignIn(button: HTMLButtonElement, label: string): Promise<void> {
	accountMessage.replaceChildren();
	button.disabled = true;
	button.textContent = "Check your wallet…";
	try {
		await signIn();
	} catch (err) {
		replace(
			accountMessage,
			notice(
				"error",
				`Sign-in failed: ${errorMessage(err)} `,
				h(
					"button",
					{
						type: "button",
						class: "btn btn-quiet btn-small",
						onClick: () => accountMessage.replaceChildren(),
					},
					"Dismiss",
				),
			),
		);
	} finally {
		if (button.isConnected) {
			button.disabled = false;
			button.textContent = label;
		}
	}
}
