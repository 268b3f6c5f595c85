/**
 * The playback access rule, shared by everything that acts on "this caller watches this video":
 * `streaming.sign` (playback URLs) and `metadata.view` (the view beacon). The decision is
 * `auth.checkAccess`'s, asked as the caller (their verified principal travels in `ctx.meta`);
 * a token gate with no reachable auth service fails closed (503), never open.
 */
import type { Context, ServiceSchema } from "moleculer";
import { UnavailableError } from "../lib/errors";
import type { Video } from "../lib/videos/video";

export const PlaybackAccessMixin: Partial<ServiceSchema> = {
	methods: {
		/** Resolves when the caller of `ctx` may play `video`; throws 401/403/503 when not. */
		async assertMayPlay(ctx: Context<unknown, any>, video: Video): Promise<void> {
			if (this.broker.registry.actions.isAvailable("auth.checkAccess"))
				await ctx.call("auth.checkAccess", { video }, { meta: ctx.meta });
			else if (video.access.kind === "token")
				throw new UnavailableError(
					"This video is token-gated and the access check is not reachable right now; try again shortly.",
					"ACCESS_CHECK_UNAVAILABLE",
				);
		},
	},
};

export default PlaybackAccessMixin;
