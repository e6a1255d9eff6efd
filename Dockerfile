FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PAYMENTS_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . && useradd --create-home payments && mkdir -p /data \
    && chown payments /data
USER payments
EXPOSE 8000
CMD ["payment-service", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-projections"]
