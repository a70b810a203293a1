# authgate container: `docker build -t registry.example.com/authgate .`
# Run it with the portal's address, which `serve` requires:
#   docker run -e AUTHGATE_PUBLIC_URL=https://auth.example.com -v authgate:/data -p 9000:9000 IMAGE
FROM python:3.12-slim
COPY . /src
RUN pip install --no-cache-dir /src && rm -rf /src \
    && useradd --uid 10001 --create-home authgate \
    && mkdir /data && chown authgate /data
USER 10001
ENV AUTHGATE_DATA_DIR=/data AUTHGATE_HOST=0.0.0.0 AUTHGATE_PORT=9000
EXPOSE 9000
ENTRYPOINT ["authgate"]
CMD ["serve"]
