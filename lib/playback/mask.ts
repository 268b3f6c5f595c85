/**
 * Playback tokens in text meant for logs. A `/play/<token>/...` URL is a bearer credential for its
 * whole lifetime: a log line keeps the token's expiry (useful when reading logs) and drops both
 * MACs.
 */

/** `/play/<expires>.<md5>.<hmac>/…` → `/play/<expires>.***` + `/…`; other text unchanged. */
export function maskPlaybackTokens(text: string): string {
	return text.replace(/(\/play\/)([^/?#\s]+)/g, (_whole, prefix: string, token: string) => {
		const expires = /^([1-9][0-9]{0,11})\./.exec(token)?.[1];
		return `${prefix}${expires ? `${expires}.` : ""}***`;
	});
}
