# Build the wheel in one stage; the image installs only that wheel: no source tree, no build tools.
FROM python:3.11-slim AS build
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PAYMENTS_DATA_DIR=/data
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir /tmp/wheels/*.whl && rm -rf /tmp/wheels \
    && pip uninstall --yes setuptools wheel \
    && useradd --create-home payments && mkdir -p /data && chown payments /data
USER payments
WORKDIR /home/payments
EXPOSE 8000
CMD ["payment-service", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-projections"]
