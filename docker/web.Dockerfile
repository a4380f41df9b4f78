# syntax=docker/dockerfile:1
# Web app image: the Vite build served by nginx (unprivileged: non-root, port 8080). Build from
# the repository root:
#   docker build -f docker/web.Dockerfile -t web .
# The service URLs are not baked into the bundle: nginx answers /config.json from AUTH_URL and
# TASKS_URL at container start (see docker/nginx.conf).

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM nginxinc/nginx-unprivileged:1.28-alpine AS runtime
# The image's entrypoint renders /etc/nginx/templates/*.template into /etc/nginx/conf.d with
# envsubst, substituting only variables that are set (nginx's own $uri etc. stay untouched).
COPY docker/nginx.conf /etc/nginx/templates/default.conf.template
COPY --from=build /app/dist /usr/share/nginx/html
ENV AUTH_URL=http://localhost:8081 \
    TASKS_URL=http://localhost:8082
EXPOSE 8080
USER 101:101
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
