// The upload pipeline API's front-end example, verbatim. The test replaces only its base URL.
type UploadInitResponse = {
  key: string;
  upload_url: string;
  cdn_url: string;
  expires_in: number;
  required_headers: Record<string, string>;
};

export async function uploadChatImage(file: File, context: {
  messageId: string;
  userId: string;
}) {
  const initRes = await fetch("https://api.dev.growbin.app/api/v1/images/chat", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({
      filename: file.name,
      content_type: file.type || "application/octet-stream",
      // 로그인 사용자와 동일한 UUID를 넣거나, 생략하면 서버가 쿠키 사용자 ID를 사용합니다.
      uploader_id: context.userId,
      metadata: {
        message_id: context.messageId,
        source: "web",
      },
    }),
  });
  if (!initRes.ok) throw new Error("Failed to request presigned URL");
  const initBody: UploadInitResponse = await initRes.json();

  await fetch(initBody.upload_url, {
    method: "PUT",
    headers: initBody.required_headers,
    body: file,
  });

  const etag = "값은 브라우저 fetch 응답 헤더에서 직접 읽어야 함";
  const finalizeRes = await fetch("https://api.dev.growbin.app/api/v1/images/chat/callback", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({
      key: initBody.key,
      etag,
      content_length: file.size,
    }),
  });
  if (!finalizeRes.ok) throw new Error("Failed to finalize upload");
  const finalizeBody = await finalizeRes.json();

  return finalizeBody; // {cdn_url, metadata, uploader_id ...}
}
