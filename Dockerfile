# StreamGate node image: one image, the services a container hosts are chosen by SERVICES.
FROM node:24-bookworm-slim

# ffmpeg/ffprobe from Debian (transcoder and upload probe by content); tini reaps ffmpeg children
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ffmpeg tini ca-certificates \
	&& rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts=false && npm cache clean --force
COPY . .
# The browser app, built once into the image (the node user cannot write web/dist later).
RUN npx vite build

ENV NODE_ENV=production \
	DATA_DIR=/data \
	PORT=3000 \
	METRICS_PORT=3030
# The volume's mount point belongs to the user the node runs as: a fresh named volume copies
# this ownership, so the node can write media, the database and its generated keys there.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
EXPOSE 3000 3030

USER node
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["npx", "tsx", "--max-semi-space-size=4", "bin/streamgate.ts"]
