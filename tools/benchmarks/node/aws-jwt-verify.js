"use strict";
// A TOKEN authorizer with aws-jwt-verify, as its README's "API Gateway Lambda Authorizer - REST" example, for Okta:
// the generic JwtVerifier on the issuer's /v1/keys. Its built-in fetcher speaks https only; for plain http (the
// bench's loopback keys server) it gets the README's custom Fetcher ("Using a different Fetcher").
const http = require("node:http");
const { JwtVerifier } = require("aws-jwt-verify");
const { SimpleJwksCache } = require("aws-jwt-verify/jwk");
const { bearerToken, allows, policy } = require("./common.js");

/** A GET over plain http, answering as the library's own https fetcher does (the body as an ArrayBuffer). */
class HttpFetcher {
  async fetch(uri) {
    return new Promise((resolve, reject) => {
      const request = http.get(uri, { timeout: 3000 }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`Status code is ${response.statusCode}, expected 200`));
          return;
        }
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
        });
        response.on("error", reject);
      });
      request.on("timeout", () => request.destroy(new Error("timed out")));
      request.on("error", reject);
    });
  }
}

const issuer = process.env.ISSUER;
const jwksUri = `${issuer}/v1/keys`;
// Created outside the handler (the cold start), so its JWKS cache lives as long as the container.
const verifier = JwtVerifier.create(
  { issuer, audience: process.env.AUDIENCE, jwksUri },
  jwksUri.startsWith("http:") ? { jwksCache: new SimpleJwksCache({ fetcher: new HttpFetcher() }) } : undefined,
);

exports.handler = async (event) => {
  let payload;
  try {
    // If the token is not valid, an error is thrown:
    payload = await verifier.verify(bearerToken(event));
  } catch {
    // API Gateway wants this *exact* error message, otherwise it returns 500 instead of 401:
    throw new Error("Unauthorized");
  }
  return policy(payload, allows(payload, event.methodArn) ? "Allow" : "Deny", event.methodArn);
};
