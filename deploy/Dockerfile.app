# The app environment (Python 3.11): bot, actions, storage, scheduler, translations.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1
COPY requirements/app.lock requirements/app.lock
# CPU build of torch first (argostranslate -> stanza -> torch), then the exact locked set.
RUN pip install --no-cache-dir "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir -r requirements/app.lock
COPY . .
RUN pip install --no-cache-dir --no-deps -e .
EXPOSE 8080 5055
CMD ["python", "-m", "bot.cli", "serve"]
