"""Entry point for gunicorn (`feedsvc.wsgi:app`); see gunicorn_conf.py for who starts the scheduler."""

from feedsvc.deploy.service import Service, configure_logging

configure_logging()
service = Service(serving=True)
service.publish_state()
app = service.app
