
-- Pins are kept as typed records (issue 15): the image is `image_url`, no
-- longer the API's nested `media`, which the HTTP layer now writes.
UPDATE objects
   SET record = json_set(json_remove(record, '$.media'),
                         '$.image_url', json_extract(record, '$.media.images.originals.url'))
 WHERE kind = 'pin' AND json_extract(record, '$.media') IS NOT NULL;
