"""The laptop stack: moto as embedded AWS, a dev server speaking API Gateway events, an SQS poller."""
