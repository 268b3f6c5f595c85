/**
 * transcoder: ffmpeg probe, one-pass ladder, thumbnails and the node's capabilities. The actions
 * arrive with the video pipeline; until then this service only reports the ffmpeg it will use.
 */
import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import { ErrorsMixin } from "../mixins/errors.mixin";

const config = loadConfig();

export interface TranscoderSettings extends ServiceSettingSchema {
	ffmpegPath: string;
	ffprobePath: string;
}

const TranscoderService: ServiceSchema<TranscoderSettings> = {
	name: "transcoder",
	mixins: [ErrorsMixin],
	settings: { ffmpegPath: config.ffmpegPath, ffprobePath: config.ffprobePath },
	created() {
		this.logger.info(
			`transcoder: ffmpeg '${this.settings.ffmpegPath}', ffprobe '${this.settings.ffprobePath}'`,
		);
	},
};

export default TranscoderService;
