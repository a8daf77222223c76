# The app environment (Python 3.11): bot, actions, storage, scheduler, translations.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1
COPY requirements/app.lock requirements/app.lock
# Exactly the locked runtime set with its hashes: no test or lint tools, no heavy NLP stacks.
RUN pip install --no-cache-dir --no-deps --require-hashes -r requirements/app.lock
COPY . .
RUN pip install --no-cache-dir --no-deps -e .
EXPOSE 8080 5055
CMD ["python", "-m", "cli", "serve"]
